package dev.atelier.executor.comfyui;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atelier.executor.backend.BackendState;
import dev.atelier.executor.service.Backends;
import dev.atelier.fakes.FakeComfy;
import dev.atelier.store.Artifacts;
import dev.atelier.store.BatchMode;
import dev.atelier.store.JobControl;
import dev.atelier.store.JobIntake;
import dev.atelier.store.NewBatch;
import dev.atelier.store.testing.Batches;
import dev.atelier.store.testing.Inspect;
import dev.atelier.store.testing.PostgresTestResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import javax.sql.DataSource;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The executor against a fake ComfyUI over real HTTP and a real websocket, on a real PostgreSQL: submit, follow,
 * collect outputs, errors, cancel, timeout, adoption of a run it did not submit, and the websocket dropping.
 */
@QuarkusTest
@QuarkusTestResource(PostgresTestResource.class)
@WithTestResource(FakeComfyResource.class)
class ComfyExecutionTests {

    private static final Duration WAIT = Duration.ofSeconds(30);

    @FakeComfyResource.Fake
    FakeComfy fake;

    @Inject
    DataSource dataSource;

    @Inject
    Backends backends;

    @Inject
    Artifacts artifacts;

    @Inject
    ObjectMapper json;

    JobIntake intake;
    JobControl control;
    Inspect inspect;

    @BeforeEach
    void setUp() {
        fake.resume();
        fake.resetCounts();
        intake = new JobIntake(dataSource);
        control = new JobControl(dataSource);
        inspect = new Inspect(dataSource);
        await().atMost(WAIT).until(() -> backends.state("comfyui").snapshot().status() == BackendState.Status.ONLINE);
    }

    /** The contract's txt2img graph with this positive prompt, batch size and checkpoint. */
    ObjectNode workflow(String text, int batchSize, String checkpoint) throws Exception {
        ObjectNode graph = (ObjectNode) json.readTree(txt2img());
        ((ObjectNode) graph.path("6").path("inputs")).put("text", text);
        ((ObjectNode) graph.path("5").path("inputs")).put("batch_size", batchSize);
        ((ObjectNode) graph.path("4").path("inputs")).put("ckpt_name", checkpoint);
        return graph;
    }

    static String txt2img() throws Exception {
        return FakeComfy.txt2img();
    }

    UUID submit(JsonNode workflow, Duration timeout, int maxAttempts) {
        NewBatch batch = Batches.batch(BatchMode.PARALLEL).retry(maxAttempts, Duration.ZERO, 1.0)
                .job("comfyui.workflow", null, "{\"workflow\": " + workflow + "}", timeout).build();
        intake.insertBatch(batch);
        return batch.jobs().get(0).id();
    }

    private String state(UUID job) {
        return inspect.job(job).state();
    }

    private String promptIdOf(UUID job) {
        return inspect.strings("select backend_ref from job where id = ?", job).get(0);
    }

    private JsonNode result(UUID job) throws Exception {
        return json.readTree(inspect.job(job).result());
    }

    @Test
    void aRunWithTwoImagesStoresBothAndListsThemInTheResult() throws Exception {
        UUID job = submit(workflow("Scorpion portrait, ink wash", 2, FakeComfy.CHECKPOINT), Duration.ofMinutes(1), 3);
        await().atMost(WAIT).until(() -> state(job).equals("success"));

        String promptId = promptIdOf(job);
        assertThat(fake.posts(promptId)).as("submitted once, with the prompt id committed first").isEqualTo(1);
        JsonNode result = result(job);
        assertThat(result.path("prompt_id").asText()).isEqualTo(promptId);
        assertThat(result.path("artifacts")).hasSize(2);
        for (JsonNode a : result.path("artifacts")) {
            Artifacts.ArtifactFile file = artifacts.find(UUID.fromString(a.path("id").asText())).orElseThrow();
            assertThat(file.data()).as(a.path("name").asText()).isEqualTo(fake.file(a.path("name").asText()));
            assertThat(a.path("content_type").asText()).isEqualTo("image/png");
            assertThat(a.path("size").asLong()).isEqualTo(file.data().length);
            assertThat(a.path("sha256").asText()).isEqualTo(file.info().sha256());
            assertThat(a.path("url").asText()).isEqualTo("/api/v1/artifacts/" + a.path("id").asText());
        }
        assertThat(inspect.job(job).attemptsUsed()).isEqualTo(1);
        assertThat(inspect.strings("select details from ledger_line where job_id = ?", job))
                .as("the ledger line names the outputs")
                .containsExactly(result.path("artifacts").path(0).path("name").asText() + ", "
                        + result.path("artifacts").path(1).path("name").asText());
    }

    @Test
    void anOutputOverTheSizeLimitFailsTheJobAtOnceAndNothingIsStored() throws Exception {
        fake.viewPadding(3L << 20); // 3 MiB over a 2 MiB limit (FakeComfyResource)
        try {
            UUID job = submit(workflow("a huge canvas", 1, FakeComfy.CHECKPOINT), Duration.ofMinutes(1), 3);
            await().atMost(WAIT).until(() -> state(job).equals("failed"));

            assertThat(inspect.job(job).error()).matches(
                    "ComfyUI output ComfyUI_\\d+_\\.png is larger than 2097152 bytes \\(atelier.artifacts.max-bytes\\)");
            assertThat(inspect.attempts(job)).as("no retry makes it smaller").hasSize(1);
            assertThat(inspect.count("select count(*) from artifact where job_id = '" + job + "'")).isZero();
        } finally {
            fake.viewPadding(0);
        }
    }

    @Test
    void aDownloadThatStallsIsHandedBackAndAfterThreeRoundsSpendsAnAttempt() throws Exception {
        fake.stallViews(true);
        try {
            UUID job = submit(workflow("stalled download", 1, FakeComfy.CHECKPOINT), Duration.ofMinutes(1), 1);
            await().atMost(Duration.ofSeconds(60)).until(() -> state(job).equals("failed"));

            assertThat(inspect.eventStatuses(job)).containsExactly("handed_back", "handed_back", "handed_back", "failed");
            assertThat(inspect.job(job).error()).startsWith("comfyui could not move this job's files on executor-comfy-test:"
                    + " the download of ").contains("took longer than 1 s (atelier.backends.comfyui.download-timeout)")
                    .endsWith("(handed back 3 times in a row while comfyui passed its health checks, so this attempt is spent)");
            assertThat(fake.posts(promptIdOf(job))).as("each round adopted the finished run").isEqualTo(1);
        } finally {
            fake.stallViews(false);
        }
    }

    @Test
    void aValidationErrorOfTheWorkflowItselfFailsAtOnceWithEachNodesError() throws Exception {
        ObjectNode graph = workflow("anything", 1, FakeComfy.CHECKPOINT);
        ((ObjectNode) graph.path("3").path("inputs")).put("steps", 0);
        UUID job = submit(graph, Duration.ofMinutes(1), 3);
        await().atMost(WAIT).until(() -> state(job).equals("failed"));
        assertThat(inspect.job(job).error()).isEqualTo("ComfyUI rejected the workflow: Prompt outputs failed validation; "
                + "node 3 (KSampler): Value 0 smaller than min of 1: steps");
        assertThat(inspect.job(job).attemptsUsed()).as("no retry can help").isEqualTo(1);
    }

    @Test
    void aWorkflowNamingACheckpointNoExecutorHasIsNotClaimedAndFailsAfterTheGraceNamingIt() throws Exception {
        UUID job = submit(workflow("anything", 1, "sd_xl_base_1.0.safetensors"), Duration.ofMinutes(1), 3);
        await().atMost(WAIT).until(() -> state(job).equals("failed"));
        assertThat(inspect.job(job).error()).isEqualTo("no executor has checkpoint 'sd_xl_base_1.0.safetensors'"
                + " (available: " + FakeComfy.CHECKPOINT + ")");
        assertThat(inspect.attempts(job)).as("never claimed").isEmpty();
        assertThat(fake.totalPosts()).isZero();
    }

    @Test
    void aCustomNodeOrLoraOnlyThisBoxLacksHandsTheJobBackAndKeepsItOffThisExecutor() throws Exception {
        fake.missingNodeClass("IPAdapterApply");
        try {
            ObjectNode graph = workflow("with an adapter", 1, FakeComfy.CHECKPOINT);
            graph.putObject("10").put("class_type", "IPAdapterApply").putObject("inputs");
            UUID noNode = submit(graph, Duration.ofMinutes(1), 3);
            ObjectNode lora = workflow("with a lora", 1, FakeComfy.CHECKPOINT);
            lora.putObject("11").put("class_type", "LoraLoader").putObject("inputs").put("lora_name", "mk-style.safetensors");
            UUID noLora = submit(lora, Duration.ofMinutes(1), 3);

            // this is the only live executor: once it keeps them off, the model sweep fails them with its words
            await().atMost(WAIT).until(() -> state(noNode).equals("failed") && state(noLora).equals("failed"));
            assertThat(inspect.job(noNode).error()).isEqualTo("no live executor can run it: comfyui on executor-comfy-test"
                    + " cannot run it: ComfyUI rejected the workflow: Cannot execute because node IPAdapterApply does not"
                    + " exist. (Node ID '#10')");
            assertThat(inspect.job(noLora).error()).contains("cannot run it: ComfyUI rejected the workflow")
                    .contains("lora_name: 'mk-style.safetensors' not in []");
            assertThat(inspect.attempts(noNode)).as("nothing spent").isEmpty();
            assertThat(inspect.eventStatuses(noLora)).containsExactly("handed_back");
        } finally {
            fake.missingNodeClass();
        }
    }

    @Test
    void outputsThatFailValidationInA200FailTheJobWithComfyUisWordsInsteadOfSucceedingWithout() throws Exception {
        ObjectNode graph = workflow("two outputs, one broken", 1, FakeComfy.CHECKPOINT);
        graph.set("12", graph.path("9").deepCopy());
        ((ObjectNode) graph.path("12").path("inputs")).put("filename_prefix", "");
        UUID job = submit(graph, Duration.ofMinutes(1), 3);

        await().atMost(WAIT).until(() -> state(job).equals("failed"));
        assertThat(inspect.job(job).error()).isEqualTo("ComfyUI would skip outputs that failed validation, so the run"
                + " was taken out of its queue: node 12 (SaveImage): Required input is missing: filename_prefix");
        assertThat(inspect.attempts(job)).hasSize(1);
        assertThat(fake.deletes()).contains(promptIdOf(job));
    }

    @Test
    void previewsAreNotOutputs() throws Exception {
        ObjectNode graph = workflow("saved and previewed", 1, FakeComfy.CHECKPOINT);
        graph.putObject("13").put("class_type", "PreviewImage").putObject("inputs").set("images",
                json.createArrayNode().add("8").add(0));
        UUID job = submit(graph, Duration.ofMinutes(1), 3);

        await().atMost(WAIT).until(() -> state(job).equals("success"));
        assertThat(result(job).path("artifacts")).hasSize(1);
        assertThat(result(job).path("artifacts").get(0).path("name").asText()).doesNotContain("temp");
    }

    @Test
    void timeInComfyUisQueueIsNotRunTimeAndARunTooLongInTheQueueIsTakenOutAndHandedBack() throws Exception {
        fake.pause(); // an artist's long render holds the one worker
        try {
            // waits 2 s in the queue with a 1 s timeout: the timeout counts from the start
            UUID patient = submit(workflow("after the queue", 1, FakeComfy.CHECKPOINT), Duration.ofSeconds(1), 1);
            await().atMost(WAIT).until(() -> fake.totalPosts() == 1);
            Thread.sleep(2_000);
            fake.resume();
            await().atMost(WAIT).until(() -> state(patient).equals("success"));
            assertThat(inspect.attempts(patient)).hasSize(1);

            // past the queue timeout (3 s here) the run is taken out of ComfyUI and the job handed back, unspent
            fake.pause();
            UUID queued = submit(workflow("stuck behind artists", 1, FakeComfy.CHECKPOINT), Duration.ofMinutes(1), 1);
            await().atMost(WAIT).until(() -> inspect.eventStatuses(queued).contains("handed_back"));
            String firstRun = promptIdOf(queued);
            assertThat(fake.deletes()).contains(firstRun);
            // unspent: no attempt ended (the claim loop, woken by the hand-back, may already hold a new attempt 1)
            assertThat(inspect.attempts(queued)).allSatisfy(a -> {
                assertThat(a.attempt()).isEqualTo(1);
                assertThat(a.status()).isEqualTo("running");
            });
            // the reason as the hand-back wrote it (a new claim clears the job's waiting reason)
            assertThat(inspect.strings("select result_preview from event_line where job_id = ? and status = 'handed_back'",
                    queued)).anySatisfy(reason -> assertThat(reason).contains("waited 3 s in ComfyUI's queue without starting"));
            fake.resume();
            await().atMost(WAIT).until(() -> state(queued).equals("success"));
            assertThat(inspect.attempts(queued)).hasSize(1);
        } finally {
            fake.resume();
        }
    }

    @Test
    void aRunThatVanishedFromComfyUisQueueIsPostedAgain() throws Exception {
        fake.pause();
        try {
            UUID job = submit(workflow("cleared by an artist", 1, FakeComfy.CHECKPOINT), Duration.ofMinutes(1), 1);
            await().atMost(WAIT).until(() -> fake.totalPosts() == 1);
            String run = promptIdOf(job);
            fake.clearQueue(); // the UI's queue panel: the run will never reach /history
            fake.resume();

            await().atMost(WAIT).until(() -> state(job).equals("success"));
            assertThat(fake.posts(run)).as("posted again under the same id").isEqualTo(2);
            assertThat(inspect.attempts(job)).hasSize(1);
        } finally {
            fake.resume();
        }
    }

    @Test
    void aComfyUiBeforeTheClientPromptIdIsUnusableAndSaysWhy() {
        fake.version("0.3.40");
        try {
            await().atMost(WAIT).until(() -> backends.state("comfyui").snapshot().status() == BackendState.Status.OFFLINE);
            assertThat(backends.state("comfyui").snapshot().detail())
                    .contains("ComfyUI 0.3.40 is too old: before 0.3.45 it ignores the prompt_id Atelier chooses");
        } finally {
            fake.version("0.3.64");
        }
        await().atMost(WAIT).until(() -> backends.state("comfyui").snapshot().status() == BackendState.Status.ONLINE);
    }

    @Test
    void aComfyUiBeforeTargetedInterruptsIsNeverInterruptedItsQueuedRunsAreOnlyTakenOut() throws Exception {
        fake.version("0.3.50");
        try {
            await().atMost(WAIT).until(() -> backends.state("comfyui").snapshot().detail().contains("never interrupted"));
            // a run that outlasts its timeout is left to finish, its result discarded, and the next attempt starts anew
            UUID job = submit(workflow("slow:2500 too long", 1, FakeComfy.CHECKPOINT), Duration.ofSeconds(1), 2);
            await().atMost(WAIT).until(() -> inspect.attempts(job).size() >= 1
                    && "failed".equals(inspect.attempts(job).get(0).status()));
            assertThat(inspect.attempts(job).get(0).error()).contains("timed out after 1 s of running; it was left to"
                    + " finish (ComfyUI 0.3.50 cannot interrupt one run only), its result discarded");
            await().atMost(WAIT).until(() -> state(job).equals("failed"));
            assertThat(fake.interrupts()).as("an old /interrupt would stop anybody's run").isEmpty();
            assertThat(fake.totalPosts()).as("the second attempt posted a run of its own").isEqualTo(2);
        } finally {
            fake.version("0.3.64");
        }
    }

    @Test
    void anExecutionErrorSpendsTheAttemptAndNamesNodeTypeAndMessage() throws Exception {
        UUID job = submit(workflow("fail-execution", 1, FakeComfy.CHECKPOINT), Duration.ofMinutes(1), 2);
        await().atMost(WAIT).until(() -> state(job).equals("failed"));
        assertThat(inspect.job(job).error()).startsWith(
                "ComfyUI node 3 (KSampler) failed: torch.OutOfMemoryError: Allocation on device");
        assertThat(inspect.attempts(job)).hasSize(2).allMatch(a -> a.status().equals("failed"));
        assertThat(fake.totalPosts()).isGreaterThanOrEqualTo(2);
    }

    @Test
    void cancellingARunningJobInterruptsThatPromptOnly() throws Exception {
        UUID job = submit(workflow("hang", 1, FakeComfy.CHECKPOINT), Duration.ofMinutes(5), 3);
        await().atMost(WAIT).until(() -> inspect.job(job).state().equals("running") && fake.isRunning(promptIdOf(job)));
        String promptId = promptIdOf(job);
        control.cancelJob(job, null);
        await().atMost(WAIT).until(() -> state(job).equals("cancelled"));
        assertThat(fake.interrupts()).as("this prompt was interrupted")
                .anySatisfy(body -> assertThat(json.readTree(body).path("prompt_id").asText()).isEqualTo(promptId));
        assertThat(fake.interrupts()).as("never a global interrupt: artists share this ComfyUI")
                .allSatisfy(body -> assertThat(json.readTree(body).path("prompt_id").asText()).isNotBlank());
        assertThat(inspect.attempts(job)).singleElement().satisfies(a -> assertThat(a.status()).isEqualTo("cancelled"));
        await().atMost(WAIT).until(() -> !fake.isRunning(promptId));
    }

    @Test
    void cancellingAWaitingRunDeletesItFromComfyUIsQueue() throws Exception {
        fake.pause();
        UUID job = submit(workflow("waits its turn", 1, FakeComfy.CHECKPOINT), Duration.ofMinutes(5), 3);
        await().atMost(WAIT).until(() -> inspect.job(job).state().equals("running") && fake.isPending(promptIdOf(job)));
        control.cancelJob(job, null);
        await().atMost(WAIT).until(() -> state(job).equals("cancelled"));
        assertThat(fake.deletes()).contains(promptIdOf(job));
        assertThat(fake.isPending(promptIdOf(job))).isFalse();
        fake.resume();
    }

    @Test
    void aRunThatOutlastsTheJobsTimeoutIsInterruptedAndSpendsTheAttempt() throws Exception {
        UUID job = submit(workflow("hang", 1, FakeComfy.CHECKPOINT), Duration.ofSeconds(2), 1);
        await().atMost(WAIT).until(() -> state(job).equals("failed"));
        String promptId = promptIdOf(job);
        assertThat(inspect.job(job).error()).isEqualTo("ComfyUI run " + promptId + " timed out after 2 s of running; it was interrupted");
        assertThat(fake.interrupts()).anySatisfy(body ->
                assertThat(json.readTree(body).path("prompt_id").asText()).isEqualTo(promptId));
    }

    @Test
    void aRunAlreadyInComfyUIIsAdoptedNotSubmittedAgain() throws Exception {
        // an earlier attempt committed the prompt id and submitted it, then its executor died
        String promptId = UUID.randomUUID().toString();
        fake.enqueue(promptId, "executor-that-died", workflow("slow:600", 1, FakeComfy.CHECKPOINT));
        UUID job = storeWithPromptId(workflow("slow:600", 1, FakeComfy.CHECKPOINT), promptId);
        await().atMost(WAIT).until(() -> state(job).equals("success"));
        assertThat(fake.posts(promptId)).as("the run was adopted, not posted again").isEqualTo(1);
        assertThat(result(job).path("prompt_id").asText()).isEqualTo(promptId);
        assertThat(result(job).path("artifacts")).hasSize(1);
    }

    @Test
    void aPromptIdCommittedButNeverPostedIsPostedOnce() throws Exception {
        // the executor crashed between committing the prompt id and POST /prompt
        String promptId = UUID.randomUUID().toString();
        UUID job = storeWithPromptId(workflow("lighthouse", 1, FakeComfy.CHECKPOINT), promptId);
        await().atMost(WAIT).until(() -> state(job).equals("success"));
        assertThat(fake.posts(promptId)).isEqualTo(1);
        assertThat(promptIdOf(job)).isEqualTo(promptId);
    }

    @Test
    void whenTheWebsocketDropsTheRunStillFinishesThroughHistoryPolling() throws Exception {
        UUID job = submit(workflow("slow:3000", 1, FakeComfy.CHECKPOINT), Duration.ofMinutes(1), 1);
        await().atMost(WAIT).until(() -> fake.isRunning(promptIdOf(job)));
        // progress only comes over the websocket: seeing it proves the socket carried the run so far
        await().atMost(WAIT).until(() -> !inspect.strings("select progress::text from job where id = ? and progress > 0", job).isEmpty());
        fake.dropSockets();
        await().atMost(WAIT).until(() -> state(job).equals("success"));
        assertThat(result(job).path("artifacts")).hasSize(1);
        assertThat(fake.posts(promptIdOf(job))).isEqualTo(1);
    }

    @Test
    void anArtifactAsAnInputIsUploadedWithItsBytesBeforeTheRun() throws Exception {
        UUID first = submit(workflow("Raiden, storm god", 1, FakeComfy.CHECKPOINT), Duration.ofMinutes(1), 1);
        await().atMost(WAIT).until(() -> state(first).equals("success"));
        String artifactId = result(first).path("artifacts").path(0).path("id").asText();
        byte[] bytes = artifacts.find(UUID.fromString(artifactId)).orElseThrow().data();

        ObjectNode upscale = workflow("upscale it", 1, FakeComfy.CHECKPOINT);
        upscale.putObject("10").put("class_type", "LoadImage").putObject("inputs")
                .putObject("image").put("artifact", artifactId);
        UUID second = submit(upscale, Duration.ofMinutes(1), 1);
        await().atMost(WAIT).until(() -> state(second).equals("success"));

        String uploadedAs = fake.submitted().stream()
                .filter(g -> g.has("10")).findFirst().orElseThrow().path("10").path("inputs").path("image").asText();
        assertThat(fake.upload(uploadedAs)).as("the bytes ComfyUI received").isEqualTo(bytes);
    }

    @Test
    void healthReportsVramAndTheCheckpointsAsModels() {
        BackendState.Snapshot comfy = backends.state("comfyui").snapshot();
        assertThat(comfy.status()).isEqualTo(BackendState.Status.ONLINE);
        assertThat(comfy.detail()).contains("VRAM 23.2 GiB free of 23.6 GiB on cuda:0 NVIDIA GeForce RTX 4090");
        assertThat(comfy.models()).containsExactly(FakeComfy.CHECKPOINT);
    }

    /** Stores a job as an earlier attempt left it: with its prompt id already committed. */
    private UUID storeWithPromptId(JsonNode workflow, String promptId) {
        UUID batchId = UUID.randomUUID();
        UUID jobId = UUID.randomUUID();
        inspect.execute("""
                with b as (
                    insert into batch (id, name, mode, priority, max_attempts, retry_delay_ms, retry_backoff, job_count)
                    values (?, 'adopt', 'parallel', 1, 3, 0, 1.0, 1) returning id)
                insert into job (id, batch_id, position, key, priority, sequential, kind, type, spec, timeout_ms,
                                 max_attempts, backend_ref)
                select ?, b.id, 0, 'portrait', 1, false, 'comfyui', 'comfyui.workflow', ?::jsonb, 60000, 3, ? from b""",
                batchId, jobId, "{\"workflow\": " + workflow + "}", promptId);
        return jobId;
    }
}
