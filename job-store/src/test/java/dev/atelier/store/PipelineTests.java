package dev.atelier.store;

import static dev.atelier.store.testing.Batches.batch;
import static org.assertj.core.api.Assertions.assertThat;

import dev.atelier.store.Artifacts.NewArtifact;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** Pipelines (DESIGN.md, ordering: `after`): the gate, the templates, the cascade and the retry that re-opens. */
class PipelineTests extends QueueTestBase {

    private Map<String, UUID> ids(NewBatch batch) {
        return batch.jobs().stream().collect(Collectors.toMap(NewBatch.NewJob::key, NewBatch.NewJob::id));
    }

    private ClaimedJob claimOne(String key) {
        List<ClaimedJob> claimed = claimOllama(10);
        assertThat(claimed).extracting(ClaimedJob::key).containsExactly(key);
        return claimed.get(0);
    }

    private void answer(ClaimedJob job, String text) {
        String escaped = text.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
        assertThat(outcomes.finish(List.of(new AttemptOutcome.Success(job.id(), job.leaseToken(),
                "{\"text\": \"" + escaped + "\"}")), null).moved()).containsEntry(job.id(), JobState.SUCCESS);
    }

    @Test
    void aJobIsClaimedOnlyOnceItsUpstreamSucceededAndGetsItsAnswerInItsSpec() {
        NewBatch b = batch(BatchMode.PARALLEL)
                .step("bio", "Write Scorpion's bio")
                .step("look", 1, "{\"model\": \"deepseek-r1:32b\", \"format\": \"json\", \"prompt\": \"Describe him\"}")
                .step("summary", "Summarise: {{jobs.bio.text}} / {{ jobs.look.json.outfit.colour }}", "bio", "look")
                .build();
        intake.insertBatch(b);
        assertThat(inspect.count("select claimable_jobs('ollama')")).as("the autoscaler sees two").isEqualTo(2);

        List<ClaimedJob> first = claimOllama(10);
        assertThat(first).extracting(ClaimedJob::key).containsExactlyInAnyOrder("bio", "look");
        ClaimedJob bio = first.stream().filter(j -> j.key().equals("bio")).findFirst().orElseThrow();
        ClaimedJob look = first.stream().filter(j -> j.key().equals("look")).findFirst().orElseThrow();
        answer(bio, "<think>who is he?</think>\nA ninja \"spectre\".");
        assertThat(claimOllama(10)).as("one upstream is still running").isEmpty();
        assertThat(inspect.count("select claimable_jobs('ollama')")).isZero();

        answer(look, "{\"outfit\": {\"colour\": \"yellow\"}}");
        assertThat(inspect.count("select claimable_jobs('ollama')")).isEqualTo(1);
        ClaimedJob summary = claimOne("summary");
        assertThat(summary.specJson()).contains("Summarise: A ninja \\\"spectre\\\". / yellow")
                .doesNotContain("think");
        assertThat(inspect.strings("select spec_template::text from job where id = ?", summary.id()).get(0))
                .as("what was submitted is kept").contains("{{jobs.bio.text}}");
    }

    @Test
    void aSuccessSaysWhetherItMayHaveOpenedWorkAndWakesForItsDependentsNamingTheExecutorThatLooksItself() {
        intake.insertBatch(batch(BatchMode.PARALLEL).step("bio", "Write Scorpion's bio")
                .step("portrait", "Paint: {{jobs.bio.text}}", "bio").step("alone", "Name a stage").build());
        Map<String, ClaimedJob> first = claimOllama(10).stream()
                .collect(Collectors.toMap(ClaimedJob::key, Function.identity()));
        assertThat(first).containsOnlyKeys("bio", "alone");
        Function<ClaimedJob, AttemptOutcome> success = job -> new AttemptOutcome.Success(job.id(), job.leaseToken(),
                "{\"text\": \"done\"}");

        try (QueueSignals signals = QueueSignals.open(dataSource)) {
            assertThat(outcomes.finish(List.of(success.apply(first.get("alone"))), null).mayHaveOpenedWork())
                    .as("a parallel batch's job that no job waits for opens nothing").isFalse();
            assertThat(signals.await(Duration.ofMillis(200))).isEmpty();
            assertThat(outcomes.finish(List.of(success.apply(first.get("bio"))), null).mayHaveOpenedWork()).isTrue();
            assertThat(signals.await(Duration.ofSeconds(5))).as("its completer claims right after: named, so its"
                    + " own loop need not wake").containsExactly(new QueueSignals.Signal(QueueSignals.WORK_CHANNEL,
                    EXECUTOR));
        }

        // a sequential batch's job opens the next; a failure may open its own retry
        intake.insertBatch(batch(BatchMode.SEQUENTIAL).ollamaJobs(2, 1).build());
        Map<String, ClaimedJob> next = claimOllama(10).stream()
                .collect(Collectors.toMap(ClaimedJob::key, Function.identity()));
        assertThat(next).containsOnlyKeys("portrait", "job-0");
        assertThat(outcomes.finish(List.of(success.apply(next.get("job-0"))), null).mayHaveOpenedWork()).isTrue();
        ClaimedJob portrait = next.get("portrait");
        assertThat(outcomes.finish(List.of(new AttemptOutcome.Failure(portrait.id(), portrait.leaseToken(),
                "HTTP 500 from Ollama: boom", true)), null).mayHaveOpenedWork()).isTrue();
    }

    @Test
    void anExecutorIdTooLongForANotifyPayloadStillCompletesAndWakesEveryone() {
        intake.insertBatch(batch(BatchMode.PARALLEL).step("bio", "Write Scorpion's bio")
                .step("portrait", "Paint: {{jobs.bio.text}}", "bio").build());
        String absurd = "e".repeat(9_000);
        ClaimedJob bio = claims.claim(absurd, Map.of("ollama", 10), MODELS, LEASE, null).get(0);
        try (QueueSignals signals = QueueSignals.open(dataSource)) {
            assertThat(outcomes.finish(List.of(new AttemptOutcome.Success(bio.id(), bio.leaseToken(),
                    "{\"text\": \"done\"}")), null).moved()).containsEntry(bio.id(), JobState.SUCCESS);
            assertThat(signals.await(Duration.ofSeconds(5))).containsExactly(new QueueSignals.Signal(
                    QueueSignals.WORK_CHANNEL, ""));
        }
        assertThat(claimOne("portrait").specJson()).contains("Paint: done");
    }

    @Test
    void concurrentClaimersNeverTakeAJobBeforeItsUpstreamSucceeded() throws Exception {
        var builder = batch(BatchMode.PARALLEL);
        for (int i = 0; i < 40; i++) {
            builder.step("a" + i, "first " + i).step("b" + i, "then {{jobs.a" + i + ".text}}", "a" + i);
        }
        NewBatch b = builder.build();
        intake.insertBatch(b);
        Map<String, UUID> ids = ids(b);
        Set<String> early = ConcurrentHashMap.newKeySet();
        Set<String> done = ConcurrentHashMap.newKeySet();
        ExecutorService pool = Executors.newFixedThreadPool(6);
        List<Future<?>> workers = new ArrayList<>();
        for (int w = 0; w < 6; w++) {
            String executor = "executor-" + w;
            workers.add(pool.submit(() -> {
                int idle = 0;
                while (done.size() < 80 && idle < 200) {
                    List<ClaimedJob> claimed = claims.claim(executor, Map.of("ollama", 3), MODELS, LEASE, null);
                    idle = claimed.isEmpty() ? idle + 1 : 0;
                    for (ClaimedJob job : claimed) {
                        if (job.key().startsWith("b")) {
                            String upstream = "a" + job.key().substring(1);
                            if (!inspect.job(ids.get(upstream)).state().equals("success")
                                    || !job.specJson().contains("then done " + upstream + "\"")) {
                                early.add(job.key());
                            }
                        }
                    }
                    succeed(claimed);
                    claimed.forEach(j -> done.add(j.key()));
                }
                return null;
            }));
        }
        for (Future<?> worker : workers) {
            worker.get();
        }
        pool.shutdown();
        assertThat(done).hasSize(80);
        assertThat(early).as("jobs claimed before their upstream succeeded").isEmpty();
    }

    @Test
    void aFailedUpstreamCancelsEveryJobDownstreamWithoutSpendingAnAttempt() {
        NewBatch b = batch(BatchMode.PARALLEL).retry(1, Duration.ZERO, 1.0)
                .step("a", "first").step("b", "{{jobs.a.text}}", "a").step("c", "{{jobs.b.text}}", "b")
                .step("other", "independent").build();
        intake.insertBatch(b);
        Map<String, UUID> ids = ids(b);
        List<ClaimedJob> first = claimOllama(10);
        assertThat(first).extracting(ClaimedJob::key).containsExactlyInAnyOrder("a", "other");

        failForGood(first.stream().filter(j -> j.key().equals("a")).toList());

        for (String key : List.of("b", "c")) {
            var job = inspect.job(ids.get(key));
            assertThat(job.state()).isEqualTo("cancelled");
            assertThat(job.error()).isEqualTo("upstream job a failed");
            assertThat(job.attemptsUsed()).isZero();
            assertThat(inspect.attempts(ids.get(key))).isEmpty();
            assertThat(inspect.ledgerStatuses(ids.get(key))).containsExactly("cancelled");
        }
        assertThat(inspect.job(ids.get("other")).state()).as("nothing else is touched").isEqualTo("running");
        List<String> lines = exports.ledgerAfter(ExportLog.ExportFilter.ALL, 0, 100).lines().stream()
                .map(l -> new String(l, StandardCharsets.UTF_8)).toList();
        assertThat(lines).filteredOn(l -> l.contains("\"key\":\"c\""))
                .singleElement(org.assertj.core.api.InstanceOfAssertFactories.STRING)
                .contains("\"status\":\"cancelled\"").contains("\"details\":\"upstream job a failed\"")
                .endsWith(",\"after\":[\"b\"]}}");
        assertThat(lines).filteredOn(l -> l.contains("\"key\":\"a\"")).singleElement(
                org.assertj.core.api.InstanceOfAssertFactories.STRING).as("a line of a job that waited for none keeps"
                        + " its bytes").doesNotContain("after");
    }

    @Test
    void retryingTheUpstreamByHandReopensWhatItsFailureCancelled() {
        NewBatch b = batch(BatchMode.PARALLEL).retry(1, Duration.ZERO, 1.0)
                .step("a", "first").step("b", "{{jobs.a.text}}", "a").step("c", "{{jobs.b.text}}", "b").build();
        intake.insertBatch(b);
        Map<String, UUID> ids = ids(b);
        failForGood(List.of(claimOne("a")));
        assertThat(inspect.job(ids.get("c")).state()).isEqualTo("cancelled");

        assertThat(control.retryJob(ids.get("c"))).as("its upstream must go first")
                .isEqualTo(JobControl.Retry.UPSTREAM_UNSUCCESSFUL);
        assertThat(control.unsuccessfulUpstreams(ids.get("c"))).containsExactly("b (cancelled)");
        assertThat(control.retryJob(ids.get("a"))).isEqualTo(JobControl.Retry.RETRIED);

        for (String key : List.of("b", "c")) {
            var job = inspect.job(ids.get(key));
            assertThat(job.state()).isEqualTo("pending");
            assertThat(job.error()).isNull();
            assertThat(job.finishedAt()).isNull();
        }
        answer(claimOne("a"), "one");
        answer(claimOne("b"), "two after {{jobs.a.text}}");
        ClaimedJob c = claimOne("c");
        assertThat(c.specJson()).as("an answer is not expanded again").contains("two after {{jobs.a.text}}");
        answer(c, "three");
        assertThat(inspect.count("select count(*) from batch where finished_state = 'success'")).isZero();
    }

    @Test
    void aDiamondWaitsForBothSidesAndReopensOnlyWhenNeitherSideHasFailed() {
        NewBatch b = batch(BatchMode.PARALLEL).retry(1, Duration.ZERO, 1.0)
                .step("a", "root")
                .step("b", "left of {{jobs.a.text}}", "a")
                .step("c", "right of {{jobs.a.text}}", "a")
                .step("d", "{{jobs.b.text}} + {{jobs.c.text}}", "b", "c")
                .build();
        intake.insertBatch(b);
        Map<String, UUID> ids = ids(b);
        assertThat(new BatchViews(dataSource).find(b.id()).orElseThrow().chains()).as("the batch view lists them")
                .containsExactly(List.of("a", "b", "d"), List.of("a", "c", "d"));
        answer(claimOne("a"), "A");
        List<ClaimedJob> sides = claimOllama(10);
        assertThat(sides).extracting(ClaimedJob::key).containsExactlyInAnyOrder("b", "c");
        Function<String, ClaimedJob> side = key -> sides.stream().filter(j -> j.key().equals(key)).findFirst().orElseThrow();
        assertThat(side.apply("b").specJson()).contains("left of A");
        answer(side.apply("b"), "B");
        assertThat(claimOllama(10)).as("c is still running").isEmpty();

        failForGood(List.of(side.apply("c")));
        assertThat(inspect.job(ids.get("d")).state()).isEqualTo("cancelled");
        assertThat(inspect.job(ids.get("d")).error()).isEqualTo("upstream job c failed");

        assertThat(control.retryJob(ids.get("c"))).isEqualTo(JobControl.Retry.RETRIED);
        assertThat(inspect.job(ids.get("d")).state()).isEqualTo("pending");
        assertThat(inspect.count("select upstreams_left from job where key = 'd'"))
                .as("b has succeeded; only c is left").isEqualTo(1);
        answer(claimOne("c"), "C");
        assertThat(claimOne("d").specJson()).contains("B + C");
    }

    @Test
    void aJobWaitingForTwoFailedUpstreamsReopensOnlyWhenBothAreRetried() {
        NewBatch b = batch(BatchMode.PARALLEL).retry(1, Duration.ZERO, 1.0)
                .step("x", "one").step("y", "two").step("z", "{{jobs.x.text}} {{jobs.y.text}}", "x", "y").build();
        intake.insertBatch(b);
        Map<String, UUID> ids = ids(b);
        failForGood(claimOllama(10));
        assertThat(inspect.job(ids.get("z")).state()).isEqualTo("cancelled");

        control.retryJob(ids.get("x"));
        assertThat(inspect.job(ids.get("z")).state()).as("y has still failed").isEqualTo("cancelled");
        assertThat(inspect.job(ids.get("z")).error()).isEqualTo("upstream job y failed");
        control.retryJob(ids.get("y"));
        assertThat(inspect.job(ids.get("z")).state()).isEqualTo("pending");
        assertThat(inspect.count("select upstreams_left from job where key = 'z'")).isEqualTo(2);
    }

    @Test
    void anExpansionThatCannotBeMadeFailsTheJobNamingTheTemplateAndSpendsNoAttempt() {
        NewBatch b = batch(BatchMode.PARALLEL)
                .step("look", 1, "{\"model\": \"deepseek-r1:32b\", \"format\": \"json\", \"prompt\": \"Describe\"}")
                .step("paint", 1, "{\"workflow\": {\"6\": {\"class_type\": \"CLIPTextEncode\", \"inputs\": "
                        + "{\"text\": \"{{jobs.look.json.description}}, ink\"}}}}", "look")
                .step("after-paint", "frame {{jobs.paint.artifact}}", "paint")
                .build();
        intake.insertBatch(b);
        Map<String, UUID> ids = ids(b);
        answer(claimOne("look"), "{\"appearance\": \"a yellow ninja\"}");

        var paint = inspect.job(ids.get("paint"));
        assertThat(paint.state()).isEqualTo("failed");
        assertThat(paint.error()).contains("{{jobs.look.json.description}}").contains("upstream job look")
                .contains("without 'description'");
        assertThat(paint.attemptsUsed()).isZero();
        assertThat(inspect.attempts(ids.get("paint"))).isEmpty();
        assertThat(inspect.job(ids.get("after-paint")).error()).isEqualTo("upstream job paint failed");
    }

    @Test
    void anArtifactTemplateNamesTheUpstreamsFirstOutputAndARetryExpandsAgain() {
        NewBatch b = batch(BatchMode.PARALLEL).retry(1, Duration.ZERO, 1.0)
                .step("paint", 1, "{\"workflow\": {\"3\": {\"class_type\": \"KSampler\", \"inputs\": {}}}}")
                .step("upscale", 1, "{\"workflow\": {\"1\": {\"class_type\": \"LoadImage\", \"inputs\": "
                        + "{\"image\": {\"artifact\": \"{{jobs.paint.artifact}}\"}}}}}", "paint")
                .build();
        intake.insertBatch(b);
        Map<String, UUID> ids = ids(b);
        ClaimedJob paint = claims.claim(EXECUTOR, Map.of("comfyui", 2), MODELS, LEASE, null).get(0);
        assertThat(paint.key()).isEqualTo("paint");
        Artifacts artifacts = new Artifacts(dataSource);
        UUID first = artifacts.store(paint.id(), paint.leaseToken(), paint.attempt(), List.of(
                NewArtifact.of("a.png", "image/png", "first".getBytes(StandardCharsets.UTF_8)),
                NewArtifact.of("b.png", "image/png", "second".getBytes(StandardCharsets.UTF_8))))
                .orElseThrow().get(0).id();
        outcomes.finish(List.of(new AttemptOutcome.Success(paint.id(), paint.leaseToken(),
                "{\"outputs\": 2}")), null);

        ClaimedJob upscale = claims.claim(EXECUTOR, Map.of("comfyui", 2), MODELS, LEASE, null).get(0);
        assertThat(upscale.specJson()).contains("{\"artifact\": \"" + first + "\"}");
        failForGood(List.of(upscale));
        inspect.execute("update job set spec = '{}' where id = ?", ids.get("upscale")); // as if lost: a retry re-expands
        assertThat(control.retryJob(ids.get("upscale"))).isEqualTo(JobControl.Retry.RETRIED);
        assertThat(inspect.strings("select spec::text from job where id = ?", ids.get("upscale")).get(0))
                .contains(first.toString());
    }
}
