package dev.atelier.system;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Things break in the middle of a run: a backend answers with bytes PostgreSQL refuses, a backend goes away,
 * PostgreSQL restarts, an executor is SIGKILLed. After each, no job is lost or stuck, none completed twice, no
 * attempt spent on what was not the job's fault, and every service is ready again without anyone restarting it.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ChaosIT {

    private static final int JOBS = 1_000;
    private static final Duration RUN = Duration.ofSeconds(180);

    static Stack stack;

    @BeforeAll
    static void start() throws Exception {
        stack = Stack.start("chaos", "executor-a", "executor-b");
    }

    @AfterAll
    static void stop() throws Exception {
        if (stack != null) {
            stack.close();
        }
    }

    @Test
    @Order(0)
    void aPoisonAnswerEndsItsJobWithinALeaseAndItsExecutorGoesOnWorking() throws Exception {
        // one Ollama answer carries U+0000, as a model's byte-fallback token <0x00> does; before the completer
        // split and cleaned outcomes, it froze the executor that ran it, and every job it held after
        String poisonBatch = stack.submit(Map.of("name", "poison", "jobs", List.of(Map.of("type", "ollama.generate",
                "model", "llama3.2", "prompt", "nul-bytes in a character bio"))));
        JsonNode poisonJob = stack.job(stack.jobs(poisonBatch).get(0).path("id").asText());
        await().atMost(Duration.ofSeconds(30)).until(() -> Stack.TERMINAL.contains(
                stack.job(poisonJob.path("id").asText()).path("state").asText()));
        JsonNode ended = stack.job(poisonJob.path("id").asText());
        assertThat(ended.path("state").asText()).isEqualTo("success");
        assertThat(Duration.between(Instant.parse(ended.path("created_at").asText()),
                Instant.parse(ended.path("finished_at").asText()))).as("within a lease").isLessThan(Stack.LEASE);
        assertThat(ended.path("result").path("text").asText()).isEqualTo("echo nul-bytes in a character bio <\uFFFD> and \uFFFD");
        assertThat(ended.path("result").path("cleaned").path("text").asInt()).isEqualTo(2);
        String poisoned = ended.path("attempts").get(0).path("executor").asText();

        // the same executor, alone (the other is frozen), runs a batch submitted afterwards to its end
        String other = poisoned.equals("executor-a") ? "executor-b" : "executor-a";
        stack.freeze(other, true);
        try {
            String after = stack.submit(batch("after-poison", 20, 40));
            assertThat(stack.awaitTerminal(after, RUN).path("state").asText()).isEqualTo("success");
            assertThat(stack.jobs(after)).extracting(j -> j.path("executor").asText()).containsOnly(poisoned);
        } finally {
            stack.freeze(other, false);
        }
        stack.awaitAllReady(Duration.ofSeconds(30));
    }

    @Test
    @Order(1)
    void ollamaDownForTenSecondsSpendsNoAttempt() throws Exception {
        String batchId = stack.submit(batch("backend-down", 30));
        awaitSucceeded(batchId, 150);

        long downAt = System.nanoTime();
        stack.ollama.down();
        await().atMost(Duration.ofSeconds(8)).until(() -> "offline".equals(stack.ledger().get("/api/v1/summary")
                .then().extract().path("services.ollama")));
        JsonNode waiting = firstWaiting(batchId);
        assertThat(waiting.path("waiting_reason").asText()).contains("ollama backend is offline");
        int duringOutage = stack.succeeded(batchId);
        Thread.sleep(Math.max(0, Duration.ofSeconds(10).toMillis() - (System.nanoTime() - downAt) / 1_000_000));
        assertThat(stack.succeeded(batchId)).as("nothing completes while Ollama is down").isEqualTo(duringOutage);
        stack.ollama.up();

        assertAllSucceededOnce(batchId);
        List<JsonNode> events = stack.export("events", batchId);
        assertNoAttemptSpentButTheSuccess(events);
        assertThat(events.stream().filter(e -> "handed_back".equals(e.path("status").asText())))
                .as("the calls cut off by the outage were handed back")
                .isNotEmpty()
                .allSatisfy(e -> assertThat(e.path("result_preview").asText())
                        .matches("ollama (offline|circuit breaker open) on executor-[ab].*"));
        stack.awaitAllReady(Duration.ofSeconds(30));
    }

    @Test
    @Order(2)
    void aPostgresRestartMidRunLosesNothingAndSpendsNoAttempt() throws Exception {
        String batchId = stack.submit(batch("pg-restart", 30));
        awaitSucceeded(batchId, 300);

        stack.postgres.stop();
        stack.gateway().get("/api/v1/crews").then().statusCode(503).header("Retry-After", "5");
        stack.ledger().get("/api/v1/summary").then().statusCode(503);
        Thread.sleep(6_000); // twice the lease: every lease runs out while nobody can renew it
        stack.postgres.start();

        assertAllSucceededOnce(batchId);
        assertNoAttemptSpentButTheSuccess(stack.export("events", batchId));
        stack.awaitAllReady(Duration.ofSeconds(30));
        // and the stack takes new work as before
        String after = stack.submit(batch("after-restart", 0, 20));
        assertThat(stack.awaitTerminal(after, RUN).path("state").asText()).isEqualTo("success");
    }

    @Test
    @Order(3)
    void aSigkilledExecutorsJobsAreTakenOverAndNoneCompletesTwice() throws Exception {
        String batchId = stack.submit(batch("sigkill", 40));
        awaitSucceeded(batchId, 200);

        killWhileHoldingWork("executor-a", batchId);

        assertAllSucceededOnce(batchId);
        List<JsonNode> events = stack.export("events", batchId);
        List<JsonNode> expired = events.stream().filter(e -> "failed".equals(e.path("status").asText())).toList();
        Map<String, Long> byExecutorAndStatus = events.stream().collect(Collectors.groupingBy(
                e -> e.path("executor").asText() + " " + e.path("status").asText(), Collectors.counting()));
        assertThat(expired).as("the killed executor's attempts, spent by lease expiry (events by executor and"
                        + " status: %s)", byExecutorAndStatus).isNotEmpty()
                .allSatisfy(e -> assertThat(e.path("result_preview").asText())
                        .isEqualTo("lease expired on executor-a"));
        // the fake saw the killed attempts' calls as well as the successful ones
        int calls = 0;
        for (JsonNode e : expired) {
            calls += stack.ollama.calls(stack.job(e.path("job_id").asText()).path("spec").path("prompt").asText());
        }
        assertThat(calls).isGreaterThan(expired.size());
        stack.awaitAllReady(Duration.ofSeconds(30));
        stack.startExecutor("executor-a"); // as Kubernetes would; it rejoins under the same name
        stack.awaitAllReady(Duration.ofSeconds(30));
    }

    // ---------------------------------------------------------------- helpers

    private static Map<String, Object> batch(String name, int millis) {
        return batch(name, millis, JOBS);
    }

    /** {@code count} parallel Ollama jobs of {@code millis} each, with distinct prompts so the fake counts each. */
    private static Map<String, Object> batch(String name, int millis, int count) {
        List<Map<String, Object>> jobs = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            jobs.add(Map.of("type", "ollama.generate", "model", "llama3.2",
                    "prompt", "slow:" + millis + " " + name + "-" + i));
        }
        return Map.of("name", name, "mode", "parallel",
                "retry", Map.of("max_attempts", 3, "delay", "PT1S"), "jobs", jobs);
    }

    private static void awaitSucceeded(String batchId, int atLeast) {
        await().atMost(RUN).pollInterval(Duration.ofMillis(100)).until(() -> stack.succeeded(batchId) >= atLeast);
        assertThat(stack.succeeded(batchId)).as("still mid-run when the fault comes").isLessThan(JOBS / 2);
    }

    /**
     * SIGKILLs an executor at a moment it holds running jobs of the batch. Its jobs take ~40 ms, so it is frozen
     * (SIGSTOP) before each look: none of them can finish, nor new ones start, between the look and the kill.
     */
    private static void killWhileHoldingWork(String executor, String batchId) throws InterruptedException {
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(50)).until(() -> {
            stack.freeze(executor, true);
            // frozen with a call in flight: the fake has seen the call of a job the executor holds. A job frozen
            // between its claim and its call would leave the fake nothing to count.
            if (stack.jobsRunningOn(batchId, executor).stream().anyMatch(job -> stack.ollama.calls(
                    stack.job(job).path("spec").path("prompt").asText()) > 0)) {
                return true;
            }
            stack.freeze(executor, false);
            return false;
        });
        stack.kill(executor);
    }

    private static JsonNode firstWaiting(String batchId) {
        return Stack.json(stack.ledger().queryParam("batch", batchId).queryParam("state", "pending")
                .queryParam("limit", 1).get("/api/v1/jobs").then().statusCode(200).extract().asString())
                .path("items").get(0);
    }

    /** The events show one spent attempt per job: its first, a success. Hand-backs spend nothing. */
    private static void assertNoAttemptSpentButTheSuccess(List<JsonNode> events) {
        assertThat(events.stream().filter(e -> !e.path("attempt").isNull()))
                .as("spent attempts: one each, the first, a success")
                .hasSize(JOBS)
                .allSatisfy(e -> {
                    assertThat(e.path("status").asText()).isEqualTo("success");
                    assertThat(e.path("attempt").asInt()).isEqualTo(1);
                });
    }

    /** Every job succeeded, and the database holds exactly one success for each: one ledger line, one event. */
    private static void assertAllSucceededOnce(String batchId) {
        JsonNode batch = stack.awaitTerminal(batchId, RUN);
        assertThat(batch.path("state").asText()).isEqualTo("success");
        assertThat(batch.path("status_counts").path("success").asInt()).isEqualTo(JOBS);
        List<JsonNode> ledger = stack.export("ledger", batchId);
        assertThat(ledger).hasSize(JOBS).allSatisfy(l -> assertThat(l.path("status").asText()).isEqualTo("success"));
        assertThat(ledger.stream().map(l -> l.path("job_id").asText()).distinct()).hasSize(JOBS);
        Map<String, Long> successesPerJob = stack.export("events", batchId).stream()
                .filter(e -> "success".equals(e.path("status").asText()))
                .collect(Collectors.groupingBy(e -> e.path("job_id").asText(), Collectors.counting()));
        assertThat(successesPerJob).hasSize(JOBS);
        assertThat(successesPerJob.values()).containsOnly(1L);
    }
}
