package dev.atelier.system;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atelier.fakes.FakeComfy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The packaged {@code atelier} command, run through its launcher script as a separate process, against the whole
 * stack (tokens on): what a user at a terminal or a CI script sees, and the exit codes they rely on.
 */
class CliIT {

    static Stack stack;
    static Path work;
    static Cli cli;

    @BeforeAll
    static void start() throws Exception {
        stack = Stack.start("cli", "executor-a");
        work = Path.of("target", "cli-it").toAbsolutePath();
        if (Files.exists(work)) { // files of an earlier run would be resumed or read
            try (var old = Files.walk(work)) {
                old.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
        Files.createDirectories(work);
        Path config = Files.createDirectories(work.resolve("config"));
        cli = new Cli(work, Map.of(
                "ATELIER_GATEWAY_URL", stack.service("gateway").url(),
                "ATELIER_LEDGER_URL", stack.service("ledger").url(),
                "ATELIER_TOKEN", Stack.SUBMIT_TOKEN,
                "XDG_CONFIG_HOME", config.toString(), // no user's config file can leak in
                "TERM", "xterm", "COLUMNS", "100"));
        // a crew whose prompt is the task, so a task can ask the fake Ollama for a behaviour (fail-500, hang, slow:)
        stack.admin().body(Map.of("type", "ollama.generate", "model", "llama3.2", "prompt", "{task}"))
                .put("/api/v1/crews/echo").then().statusCode(201);
    }

    @AfterAll
    static void stop() throws Exception {
        if (stack != null) {
            stack.close();
        }
    }

    @Test
    void submitsAYamlTaskListAndWaitsForItsEnd() throws Exception {
        Files.writeString(work.resolve("roster.yaml"), """
                # the studio's roster, as the old batch runner took it
                - crew: mk1
                  task: Scorpion
                  priority: 1
                - crew: mk1
                  task: SubZero
                  priority: 1
                - crew: code
                  task: Create HealthUI.cs
                  priority: 2
                """);

        Cli.Result run = cli.run("submit", "roster.yaml", "--wait", "--retries", "4", "--retry-delay", "10",
                "--label", "project=mk1");

        assertThat(run.exit()).as(run.toString()).isZero();
        assertThat(run.out()).contains("submitted roster", "✓ Scorpion", "✓ SubZero", "✓ Create-HealthUI.cs",
                "mk1 · Scorpion", "3 of 3 succeeded", "Results: atelier jobs ", "export ledger --batch ");
        String batchId = batchIdIn(run.out());
        JsonNode batch = batch(batchId);
        assertThat(batch.path("name").asText()).isEqualTo("roster");
        assertThat(batch.path("mode").asText()).isEqualTo("priority");
        assertThat(batch.path("labels").path("project").asText()).isEqualTo("mk1");
        List<JsonNode> jobs = stack.jobs(batchId);
        assertThat(jobs).extracting(j -> j.path("key").asText())
                .containsExactly("Scorpion", "SubZero", "Create-HealthUI.cs");
        assertThat(jobs).allSatisfy(j -> assertThat(j.path("max_attempts").asInt()).isEqualTo(5));
        assertThat(stack.job(jobs.get(0).path("id").asText()).path("spec").toString()).contains("Scorpion");
    }

    @Test
    void submitsAnApiBodyFromStandardInputAndExitsOneWhenAJobFails() throws Exception {
        String body = """
                {"name": "mixed", "mode": "parallel", "jobs": [
                  {"crew": "echo", "task": "hello there"},
                  {"key": "broken", "type": "ollama.generate", "model": "llama3.2", "prompt": "fail-500 now"}]}
                """;

        Cli.Result run = cli.runWithInput(body, "submit", "-", "--retries", "0", "--wait");

        assertThat(run.exit()).as(run.toString()).isEqualTo(1);
        assertThat(run.out()).contains("✓ hello-there", "✗ broken", "1 of 2 succeeded, 1 failed", "Failed tasks (1)",
                "option \"temperature\" must be of type float32");
        JsonNode batch = batch(batchIdIn(run.out()));
        assertThat(batch.path("state").asText()).isEqualTo("failed");
        assertThat(batch.path("mode").asText()).isEqualTo("parallel");
    }

    @Test
    void noParallelMeansOneAtATimeInPriorityOrderAndQuietPrintsTheIdOnly() throws Exception {
        Cli.Result run = cli.runWithInput("[{\"crew\": \"echo\", \"task\": \"one\"}, {\"crew\": \"echo\", \"task\": \"two\"}]",
                "submit", "-", "--no-parallel", "--name", "nightly", "-q");

        assertThat(run.exit()).as(run.toString()).isZero();
        String id = run.out().strip();
        assertThat(id).matches("[0-9a-f-]{36}");
        JsonNode batch = batch(id);
        assertThat(batch.path("name").asText()).isEqualTo("nightly");
        assertThat(batch.path("mode").asText()).isEqualTo("sequential");
        assertThat(stack.awaitTerminal(id, Duration.ofSeconds(30)).path("state").asText()).isEqualTo("success");
    }

    @Test
    void runChecksTheCrewsBackendBeforeSubmitting() throws Exception {
        Cli.Result ok = cli.run("run", "--crew", "echo", "--task", "Scorpion", "--check", "--wait");
        assertThat(ok.exit()).as(ok.toString()).isZero();
        assertThat(ok.out()).contains("✓ Scorpion", "1 of 1 succeeded");

        stack.ollama.down();
        try {
            await().atMost(Duration.ofSeconds(20)).until(() -> "offline".equals(
                    Stack.json(stack.ledger().get("/api/v1/summary").asString()).path("services").path("ollama").asText()));
            int batches = batchCount();

            Cli.Result refused = cli.run("run", "--crew", "echo", "--task", "SubZero", "--check");
            assertThat(refused.exit()).as(refused.toString()).isEqualTo(1);
            assertThat(refused.err()).contains("not submitted", "crew echo needs ollama", "no ollama backend is online",
                    "ollama@executor-a offline");
            assertThat(batchCount()).as("nothing was submitted").isEqualTo(batches);

            Cli.Result check = cli.run("check");
            assertThat(check.exit()).as(check.toString()).isEqualTo(1);
            assertThat(check.out()).contains("ollama@executor-a", "offline", "comfyui@executor-a", "online");
            assertThat(check.err()).contains("no online ollama backend");
        } finally {
            stack.ollama.up();
        }
        await().atMost(Duration.ofSeconds(20)).until(() -> cli.run("check").exit() == 0);
        Cli.Result check = cli.run("check");
        assertThat(check.out()).contains("gateway", "ready", "executor-a", "deepseek-r1:32b", "0/4", "0/1", "LOADED");

        // A health check that times out on a loaded machine marks the backend offline for a moment: the CLI is
        // right to refuse then, so only a refusal naming an offline backend is tried again.
        Cli.Result offeredModel = cli.run("run", "--crew", "mk1", "--task", "Raiden", "--check");
        for (int tries = 0; offeredModel.exit() == 1 && offeredModel.err().contains("backend is online") && tries < 10; tries++) {
            Thread.sleep(2_000);
            offeredModel = cli.run("run", "--crew", "mk1", "--task", "Raiden", "--check");
        }
        assertThat(offeredModel.exit()).as("mk1's model is offered: " + offeredModel).isZero();

        stack.admin().body(Map.of("type", "ollama.generate", "model", "qwen3:235b", "prompt", "{task}"))
                .put("/api/v1/crews/huge").then().statusCode(201);
        int batches = batchCount();
        Cli.Result unknownModel = cli.run("run", "--crew", "huge", "--task", "Raiden", "--check");
        assertThat(unknownModel.exit()).as(unknownModel.toString()).isEqualTo(1);
        assertThat(unknownModel.err()).contains("crew huge uses model qwen3:235b, which no online Ollama offers",
                "deepseek-r1:32b");
        assertThat(batchCount()).as("nothing was submitted").isEqualTo(batches);
    }

    @Test
    void submitWaitsOutADatabaseOutageAndTheBatchIsStoredOnce() throws Exception {
        Files.writeString(work.resolve("outage.yaml"), "- {crew: echo, task: during the outage}\n");
        int batches = batchCount();
        Cli.Started submit;
        stack.postgres.stop();
        try {
            submit = cli.start("submit", "outage.yaml", "--name", "outage", "-q");
            // the gateway answers 503 while its database is away; the CLI says so and tries again
            await().atMost(Duration.ofSeconds(30)).until(() -> Files.readString(submit.err()).contains("trying again"));
        } finally {
            stack.postgres.start();
        }
        assertThat(submit.process().waitFor(90, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        assertThat(submit.process().exitValue()).as(Files.readString(submit.err())).isZero();
        assertThat(Files.readString(submit.err())).contains("gateway answered 503", "the same Idempotency-Key");
        String id = Files.readString(submit.out()).strip();
        await().atMost(Duration.ofSeconds(30)).ignoreExceptions().until(() -> batchCount() == batches + 1);
        assertThat(batch(id).path("name").asText()).isEqualTo("outage");
        assertThat(stack.awaitTerminal(id, Duration.ofSeconds(60)).path("state").asText()).isEqualTo("success");
    }

    @Test
    void statusPrintsTheSummaryAsATableAndAsJson() throws Exception {
        String id = stack.submit(Map.of("name", "status-probe", "jobs", List.of(Map.of("crew", "echo", "task", "x"))));
        stack.awaitTerminal(id, Duration.ofSeconds(30));

        Cli.Result json = cli.run("status", "--json");
        assertThat(json.exit()).as(json.toString()).isZero();
        JsonNode summary = Stack.json(json.out());
        assertThat(summary.path("total_tasks").asLong()).isPositive();
        assertThat(summary.has("status_counts") && summary.has("services") && summary.has("executors")).isTrue();

        Cli.Result one = cli.run("status", id, "--json");
        assertThat(Stack.json(one.out()).path("id").asText()).isEqualTo(id);
        assertThat(Stack.json(one.out()).path("state").asText()).isEqualTo("success");

        Cli.Result table = cli.run("status");
        assertThat(table.exit()).isZero();
        assertThat(table.out()).contains("Jobs:", "Backends: ", "Latest batches", "status-probe", id);
        Cli.Result batchTable = cli.run("status", id);
        assertThat(batchTable.out()).contains("status-probe", "priority 1", "1/1");
    }

    @Test
    void exportFollowResumesAfterAnInterruptionWithoutSkippingOrRepeatingALine() throws Exception {
        Path file = work.resolve("ledger.jsonl");
        Files.deleteIfExists(file);
        Process follow = cli.start("export", "ledger", "--follow", "--interval", "200ms", "-o", file.toString()).process();
        String first = submitEchoJobs("export-a", 30);
        stack.awaitTerminal(first, Duration.ofSeconds(60));
        await().atMost(Duration.ofSeconds(30)).until(() -> lines(file).size() >= apiLedger().size());
        follow.destroyForcibly().waitFor();
        // as if it had been killed halfway through writing a line
        Files.writeString(file, "{\"seq\": 999999, \"job_id\": \"cut-sh", StandardOpenOption.APPEND);

        String second = submitEchoJobs("export-b", 30);
        stack.awaitTerminal(second, Duration.ofSeconds(60));
        Cli.Started resumed = cli.start("export", "ledger", "--follow", "--interval", "200ms", "-o", file.toString());
        try {
            // the API's own export, read again each time: a job of an earlier test may still end meanwhile
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(500))
                    .untilAsserted(() -> assertThat(lines(file)).containsExactlyElementsOf(apiLedger()));
            assertThat(lines(file)).hasSizeGreaterThanOrEqualTo(60);
        } finally {
            resumed.process().destroy(); // SIGTERM, as Ctrl-C would: the follow loop ends and says where
            resumed.process().waitFor();
        }
        String said = Files.readString(resumed.err());
        assertThat(said).contains("continuing " + file + " after seq ", "stopped after seq ", "run it again to continue");

        Cli.Result again = cli.run("export", "ledger", "--batch", first, "-o", work.resolve("first.jsonl").toString());
        assertThat(again.exit()).as(again.toString()).isZero();
        assertThat(lines(work.resolve("first.jsonl"))).hasSize(30)
                .allSatisfy(line -> assertThat(line).contains("\"batch_id\":\"" + first + "\""));
        assertThat(again.err()).contains("wrote 30 line(s)");
        Cli.Result events = cli.run("export", "events", "--batch", second, "--status", "success");
        assertThat(events.out().lines().count()).isEqualTo(30);
    }

    @Test
    void listsJobsShowsOneAndSavesItsArtifact() throws Exception {
        String id = stack.submit(Map.of("name", "portraits", "jobs", List.of(
                Map.of("key", "portrait", "type", "comfyui.workflow", "workflow", Stack.json(FakeComfy.txt2img())),
                Map.of("key", "bio", "crew", "echo", "task", "a short bio"))));
        stack.awaitTerminal(id, Duration.ofSeconds(60));

        Cli.Result table = cli.run("jobs", id);
        assertThat(table.exit()).as(table.toString()).isZero();
        assertThat(table.out()).contains("KEY", "portrait", "bio", "success", "comfyui.workflow", "echo · a short bio");
        assertThat(cli.run("jobs", id, "--state", "failed").out()).contains("no jobs in state failed");
        JsonNode listed = Stack.json(cli.run("jobs", id, "--json").out());
        assertThat(listed).hasSize(2);
        String portrait = listed.get(0).path("key").asText().equals("portrait")
                ? listed.get(0).path("id").asText() : listed.get(1).path("id").asText();
        String bio = listed.get(0).path("key").asText().equals("bio")
                ? listed.get(0).path("id").asText() : listed.get(1).path("id").asText();

        Cli.Result bioDetail = cli.run("job", bio);
        assertThat(bioDetail.out()).contains("bio", "success", "executor-a", "Result", "echo a short bio");
        Cli.Result portraitDetail = cli.run("job", portrait);
        assertThat(portraitDetail.out()).contains("Artifacts", "image/png", "--artifact N -o FILE");

        Cli.Result save = cli.run("job", portrait, "--artifact", "1", "-o", "portrait.png");
        assertThat(save.exit()).as(save.toString()).isZero();
        assertThat(save.err()).contains("saved portrait.png", "checked");
        JsonNode artifact = stack.job(portrait).path("result").path("artifacts").get(0);
        byte[] saved = Files.readAllBytes(work.resolve("portrait.png"));
        assertThat(saved).isEqualTo(stack.comfy.file(artifact.path("name").asText()));
        assertThat(saved).hasSize(artifact.path("size").asInt());

        Cli.Result none = cli.run("job", bio, "--artifact", "1");
        assertThat(none.exit()).isEqualTo(2);
        assertThat(none.err()).contains("has no artifact '1'");
    }

    @Test
    void cancelsAndRetries() throws Exception {
        Cli.Result hanging = cli.runWithInput("[{\"crew\": \"echo\", \"task\": \"hang a\"}, {\"crew\": \"echo\", \"task\": \"hang b\"}, "
                + "{\"crew\": \"echo\", \"task\": \"later\", \"priority\": 2}]", "submit", "-", "-q");
        String hangId = hanging.out().strip();
        await().atMost(Duration.ofSeconds(20)).until(() -> batch(hangId).path("status_counts").path("running").asInt() == 2);
        Cli.Result stillRunning = cli.run("delete", hangId);
        assertThat(stillRunning.exit()).as(stillRunning.toString()).isEqualTo(2);
        assertThat(stillRunning.err()).contains("409", "3 job(s) that have not ended");
        Cli.Result cancel = cli.run("cancel", hangId);
        assertThat(cancel.exit()).as(cancel.toString()).isZero();
        assertThat(cancel.out()).contains("cancelled batch");
        assertThat(stack.awaitTerminal(hangId, Duration.ofSeconds(20)).path("state").asText()).isEqualTo("cancelled");
        await().atMost(Duration.ofSeconds(20)).until(() -> batch(hangId).path("status_counts").path("running").asInt() == 0);
        Cli.Result deleted = cli.run("delete", hangId);
        assertThat(deleted.exit()).as(deleted.toString()).isZero();
        assertThat(deleted.out()).contains("deleted batch " + hangId);
        Cli.Result gone = cli.run("delete", hangId);
        assertThat(gone.exit()).isEqualTo(2);
        assertThat(gone.err()).contains("no batch " + hangId);

        String oneHang = cli.runWithInput("[{\"crew\": \"echo\", \"task\": \"hang c\"}]", "submit", "-", "-q").out().strip();
        String hangJob = stack.jobs(oneHang).get(0).path("id").asText();
        Cli.Result cancelJob = cli.run("cancel", hangJob);
        assertThat(cancelJob.exit()).as(cancelJob.toString()).isZero();
        assertThat(cancelJob.out()).contains(hangJob);
        await().atMost(Duration.ofSeconds(20)).until(() -> "cancelled".equals(stack.job(hangJob).path("state").asText()));

        String failing = cli.runWithInput("[{\"crew\": \"echo\", \"task\": \"fail-500 x\"}]", "submit", "-", "-q",
                "--retries", "0").out().strip();
        stack.awaitTerminal(failing, Duration.ofSeconds(30));
        String jobId = stack.jobs(failing).get(0).path("id").asText();
        Cli.Result retry = cli.run("retry", jobId);
        assertThat(retry.exit()).as(retry.toString()).isZero();
        assertThat(retry.out()).contains("pending again");
        await().atMost(Duration.ofSeconds(30)).until(() -> stack.job(jobId).path("attempts").size() == 2
                && "failed".equals(stack.job(jobId).path("state").asText()));
        Cli.Result retryBatch = cli.run("retry", "--failed", failing, "--wait");
        assertThat(retryBatch.exit()).as("it fails again").isEqualTo(1);
        assertThat(stack.job(jobId).path("attempts")).hasSize(3);

        String done = stack.submit(Map.of("name", "done", "jobs", List.of(Map.of("crew", "echo", "task", "fine"))));
        stack.awaitTerminal(done, Duration.ofSeconds(30));
        Cli.Result notRetryable = cli.run("retry", stack.jobs(done).get(0).path("id").asText());
        assertThat(notRetryable.exit()).isEqualTo(2);
        assertThat(notRetryable.err()).contains("409", "neither failed nor cancelled");
        Cli.Result unknown = cli.run("cancel", "0190f5b2-8c1e-7a3d-9f10-5b2c4d6e8f01");
        assertThat(unknown.exit()).isEqualTo(2);
        assertThat(unknown.err()).contains("no batch or job 0190f5b2-8c1e-7a3d-9f10-5b2c4d6e8f01");
    }

    @Test
    void prunesTheSubmittersOldBatchesButNotThoseLabelledKeep() throws Exception {
        Cli contractor = cli.with(Map.of("ATELIER_TOKEN", Stack.OTHER_SUBMIT_TOKEN));
        List<Map<String, Object>> jobs = List.of(Map.of("crew", "echo", "task", "fine"));
        String old = stack.otherSubmitter().body(Map.of("name", "old", "jobs", jobs)).post("/api/v1/batches")
                .then().statusCode(201).extract().path("id");
        String keep = stack.otherSubmitter().body(Map.of("name", "kept", "labels", Map.of("keep", "true"), "jobs", jobs))
                .post("/api/v1/batches").then().statusCode(201).extract().path("id");
        String studios = stack.submit(Map.of("name", "studio's", "jobs", jobs));
        for (String id : List.of(old, keep, studios)) {
            stack.awaitTerminal(id, Duration.ofSeconds(30));
        }
        // finished_at is settled by the executors' maintenance a moment after the last job ends
        await().atMost(Duration.ofSeconds(30)).until(() -> {
            String listed = contractor.run("prune", "--older-than", "1s", "--dry-run").out();
            return listed.contains("would delete " + old) && listed.contains("would delete " + studios);
        });

        Cli.Result dryRun = contractor.run("prune", "--older-than", "1s", "--dry-run");
        assertThat(dryRun.exit()).as(dryRun.toString()).isZero();
        assertThat(dryRun.out()).doesNotContain(keep).contains("labelled keep=true");
        assertThat(batch(old).path("state").asText()).as("a dry run deletes nothing").isEqualTo("success");

        Cli.Result pruned = contractor.run("prune", "--older-than", "1s");
        assertThat(pruned.exit()).as(pruned.toString()).isZero();
        assertThat(pruned.out()).contains("deleted " + old, "kept 1 labelled keep=true", "need an admin token");
        stack.ledger().get("/api/v1/batches/" + old).then().statusCode(404);
        assertThat(batch(keep).path("state").asText()).isEqualTo("success");
        assertThat(batch(studios).path("state").asText()).as("another submitter's batch").isEqualTo("success");

        Cli.Result badAge = contractor.run("prune", "--older-than", "soon");
        assertThat(badAge.exit()).isEqualTo(2);
        assertThat(badAge.err()).contains("--older-than 'soon' is not a duration");
    }

    @Test
    void managesCrewsFromYamlAndJson() throws Exception {
        Files.writeString(work.resolve("bios.yaml"), """
                type: ollama.generate
                model: deepseek-r1:32b
                system: |
                  You write fighter bios.
                  Keep them short.
                prompt: "Write the bio of {task}"
                """);
        Cli.Result refused = cli.run("crews", "put", "bios.yaml");
        assertThat(refused.exit()).isEqualTo(2);
        assertThat(refused.err()).contains("gateway answered 403", "needs an admin token", "the token 'studio' is a submit token");
        Cli cli = CliIT.cli.with(Map.of("ATELIER_TOKEN", Stack.ADMIN_TOKEN)); // crews are the lead's
        Cli.Result created = cli.run("crews", "put", "bios.yaml");
        assertThat(created.exit()).as(created.toString()).isZero();
        assertThat(created.out()).contains("created crew bios");
        assertThat(cli.run("crews", "put", "bios.yaml").out()).contains("replaced crew bios");

        Cli.Result yaml = cli.run("crews", "get", "bios", "--yaml");
        assertThat(yaml.out()).contains("Keep them short.", "name: \"bios\"");
        Cli.Result json = cli.run("crews", "get", "bios");
        Files.writeString(work.resolve("copy.json"), json.out().replace("Keep them short.", "Keep them very short."));
        assertThat(cli.run("crews", "put", "copy.json").out()).contains("replaced crew bios");
        assertThat(stack.gateway().get("/api/v1/crews/bios").then().extract().path("template.system").toString())
                .contains("Keep them very short.");

        Cli.Result list = cli.run("crews", "list");
        assertThat(list.out()).contains("bios", "mk1", "code", "echo", "ollama.generate");
        assertThat(cli.run("crews", "delete", "bios").exit()).isZero();
        Cli.Result gone = cli.run("crews", "get", "bios");
        assertThat(gone.exit()).isEqualTo(2);
        assertThat(gone.err()).contains("404", "no crew named 'bios'");
    }

    @Test
    void badInputAndBadTokensGetAClearMessageAndExitTwoAndStoreNothing() throws Exception {
        int batches = batchCount();
        Files.writeString(work.resolve("bad.json"), "{\"name\": \"x\", \"jobs\": [\n  {\"crew\": \"mk1\" \"task\": \"a\"}]}");
        Cli.Result syntax = cli.run("submit", "bad.json");
        assertThat(syntax.exit()).isEqualTo(2);
        assertThat(syntax.err()).contains("bad.json is not valid JSON (line 2, column");
        assertNoStackTrace(syntax);

        Files.writeString(work.resolve("invalid.yaml"), "- crew: mk1\n  priority: 5000\n- crew: nobody\n  task: x\n");
        Cli.Result invalid = cli.run("submit", "invalid.yaml");
        assertThat(invalid.exit()).isEqualTo(2);
        assertThat(invalid.err()).contains("gateway answered 400", "jobs[0].task", "jobs[0].priority");
        assertNoStackTrace(invalid);

        Files.writeString(work.resolve("shape.json"), "{\"name\": \"no jobs here\"}");
        Cli.Result shape = cli.run("submit", "shape.json");
        assertThat(shape.exit()).isEqualTo(2);
        assertThat(shape.err()).contains("neither a batch", "nor a list of tasks");

        Cli.Result missing = cli.run("submit", "nowhere.yaml");
        assertThat(missing.exit()).isEqualTo(2);
        assertThat(missing.err()).contains("cannot read nowhere.yaml: no such file");

        Cli.Result retries = cli.runWithInput("[{\"crew\": \"echo\", \"task\": \"x\"}]", "submit", "-", "--retries", "40");
        assertThat(retries.exit()).isEqualTo(2);
        assertThat(retries.err()).contains("--retries must be 0..19");

        Cli.Result badToken = cli.with(Map.of("ATELIER_TOKEN", "not-a-token")).run("status");
        assertThat(badToken.exit()).isEqualTo(2);
        assertThat(badToken.err()).contains("ledger answered 401", "--token, ATELIER_TOKEN");
        assertNoStackTrace(badToken);

        Cli.Result readToken = cli.with(Map.of("ATELIER_TOKEN", Stack.READ_TOKEN))
                .runWithInput("[{\"crew\": \"echo\", \"task\": \"x\"}]", "submit", "-");
        assertThat(readToken.exit()).isEqualTo(2);
        assertThat(readToken.err()).contains("gateway answered 403", "needs a submit token", "names the role it needs");

        Cli.Result unreachable = cli.runWithInput("[{\"crew\": \"echo\", \"task\": \"x\"}]", "--gateway",
                "http://127.0.0.1:9", "submit", "-");
        assertThat(unreachable.exit()).isEqualTo(2);
        assertThat(unreachable.err()).contains("cannot reach the gateway at http://127.0.0.1:9");

        Cli.Result unknownBatch = cli.run("watch", "0190f5b2-8c1e-7a3d-9f10-5b2c4d6e8f01");
        assertThat(unknownBatch.exit()).isEqualTo(2);
        assertThat(unknownBatch.err()).contains("ledger answered 404", "no batch 0190f5b2-8c1e-7a3d-9f10-5b2c4d6e8f01");

        Cli.Result usage = cli.run("submit");
        assertThat(usage.exit()).isEqualTo(2);
        assertThat(usage.err()).contains("Missing required parameter: 'FILE'", "Usage: atelier submit");

        assertThat(batchCount()).as("nothing was stored").isEqualTo(batches);
    }

    @Test
    void readsTheConfigFileWhenTheEnvironmentSaysNothing() throws Exception {
        Path config = work.resolve("home-config");
        Files.createDirectories(config.resolve("atelier"));
        Files.writeString(config.resolve("atelier").resolve("config.yaml"), "gateway: " + stack.service("gateway").url()
                + "\nledger: " + stack.service("ledger").url() + "\ntoken: " + Stack.READ_TOKEN + "\n");
        Cli bare = cli.with(Map.of("XDG_CONFIG_HOME", config.toString(), "ATELIER_GATEWAY_URL", "",
                "ATELIER_LEDGER_URL", "", "ATELIER_TOKEN", ""));

        Cli.Result status = bare.run("status", "--json");
        assertThat(status.exit()).as(status.toString()).isZero();
        assertThat(Stack.json(status.out()).has("total_tasks")).isTrue();
        Cli.Result overridden = bare.run("status", "--token", "wrong");
        assertThat(overridden.exit()).as("the option wins over the file").isEqualTo(2);
    }

    @Test
    void watchDrawsBarsInATerminalAndEndsWithTheFailedTaskAndItsError() throws Exception {
        String id = stack.submit(Map.of("name", "watched", "mode", "priority", "retry", Map.of("max_attempts", 1),
                "jobs", List.of(
                        Map.of("key", "slow-one", "crew", "echo", "task", "slow:1500 one", "priority", 1),
                        Map.of("key", "broken", "crew", "echo", "task", "fail-500 two", "priority", 1),
                        Map.of("key", "after", "crew", "echo", "task", "slow:800 three", "priority", 2),
                        Map.of("key", "last", "crew", "echo", "task", "four", "priority", 2))));

        Cli.Result watch = cli.runInTerminal("watch", id, "--interval", "200ms");

        assertThat(watch.exit()).as(watch.toString()).isEqualTo(1);
        String screen = watch.out();
        assertThat(screen).contains("watched", "batch", "group 1", "group 2", "elapsed", "eta", "█");
        assertThat(screen).containsPattern("\u001b\\[\\d+F"); // the frame was redrawn in place
        assertThat(screen).contains("\u001b[32m"); // in colour
        String text = screen.replaceAll("\u001b\\[[0-9;]*[A-Za-z]", "");
        assertThat(text).contains("✗ broken", "✓ slow-one", "Failed tasks (1)",
                "option \"temperature\" must be of type float32", "Results: atelier jobs " + id);
    }

    private static void assertNoStackTrace(Cli.Result result) {
        assertThat(result.err()).doesNotContain("Exception", "\tat ", "at dev.atelier");
    }

    private static String submitEchoJobs(String name, int count) {
        return stack.submit(Map.of("name", name, "mode", "parallel", "jobs", IntStream.range(0, count)
                .mapToObj(i -> Map.of("crew", "echo", "task", name + " " + i)).toList()));
    }

    private static List<String> apiLedger() {
        return stack.ledger().get("/api/v1/exports/ledger.jsonl").then().statusCode(200).extract().asString()
                .lines().filter(l -> !l.isBlank()).toList();
    }

    private static List<String> lines(Path file) throws java.io.IOException {
        return Files.exists(file) ? Files.readAllLines(file) : List.of();
    }

    private static JsonNode batch(String id) {
        return Stack.json(stack.ledger().get("/api/v1/batches/" + id).then().statusCode(200).extract().asString());
    }

    private static int batchCount() {
        return Stack.json(stack.ledger().queryParam("limit", 500).get("/api/v1/batches").asString()).path("items").size();
    }

    private static String batchIdIn(String output) {
        var matcher = java.util.regex.Pattern.compile("batch ([0-9a-f-]{36})").matcher(output);
        assertThat(matcher.find()).as(output).isTrue();
        return matcher.group(1);
    }
}
