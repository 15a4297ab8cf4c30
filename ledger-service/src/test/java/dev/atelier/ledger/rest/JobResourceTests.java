package dev.atelier.ledger.rest;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.matchesPattern;
import static org.hamcrest.Matchers.nullValue;
import static org.hamcrest.Matchers.startsWith;

import dev.atelier.ledger.LedgerData;
import dev.atelier.store.AttemptOutcome;
import dev.atelier.store.BatchMode;
import dev.atelier.store.ClaimedJob;
import dev.atelier.store.JobClaims;
import dev.atelier.store.NewBatch;
import dev.atelier.store.testing.Batches;
import dev.atelier.store.testing.PostgresTestResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

@QuarkusTest
@QuarkusTestResource(PostgresTestResource.class)
class JobResourceTests {

    @Inject
    LedgerData data;

    @BeforeEach
    void clean() {
        data.closeOpenJobs();
        data.forgetExecutors();
    }

    private UUID jobId(NewBatch batch, int index) {
        return batch.jobs().get(index).id();
    }

    private String reason(UUID jobId) {
        return given().get("/api/v1/jobs/" + jobId).then().statusCode(200).extract().jsonPath().getString("waiting_reason");
    }

    @Test
    void aJobShowsItsSpentAttemptsResultAndError() {
        NewBatch batch = data.store(Batches.batch(BatchMode.PARALLEL).retry(3, Duration.ZERO, 1.0).ollamaJobs(1, 1));
        UUID id = jobId(batch, 0);
        data.fail(data.claim("executor-a", 1).get(0), "HTTP 500 from Ollama: out of memory", true);
        data.handBack(data.claim("executor-a", 1).get(0), "ollama offline: connection refused");
        data.succeed(data.claim("executor-b", 1).get(0), "Scorpion's bio");

        JsonPath job = given().get("/api/v1/jobs/" + id).then().statusCode(200).extract().jsonPath();
        assertThat(job.getMap("$").keySet()).contains("id", "batch_id", "key", "type", "crew", "task", "priority",
                "state", "spec", "waiting_reason", "attempts", "result", "error", "progress");
        assertThat(job.getString("state")).isEqualTo("success");
        assertThat(job.getString("type")).isEqualTo("ollama.generate");
        assertThat(job.getString("spec.model")).isEqualTo(LedgerData.MODEL);
        assertThat(job.getString("result.text")).isEqualTo("Scorpion's bio");
        assertThat(job.getString("waiting_reason")).isNull();
        assertThat(job.getList("attempts.attempt")).as("the hand-back spent nothing and is not shown").containsExactly(1, 2);
        assertThat(job.getList("attempts.status")).containsExactly("failed", "success");
        assertThat(job.getList("attempts.executor")).containsExactly("executor-a", "executor-b");
        assertThat(job.getString("attempts[0].error")).isEqualTo("HTTP 500 from Ollama: out of memory");
        assertThat(job.getDouble("attempts[0].elapsed_sec")).isGreaterThanOrEqualTo(0);
        assertThat(job.getString("attempts[1].finished_at")).isNotNull();

        NewBatch failing = data.store(Batches.batch(BatchMode.PARALLEL).retry(1, Duration.ZERO, 1.0).ollamaJobs(1, 1));
        data.fail(data.claim("executor-a", 1).get(0), "HTTP 400 from Ollama: invalid option", false);
        given().get("/api/v1/jobs/" + jobId(failing, 0)).then().statusCode(200)
                .body("state", equalTo("failed"))
                .body("error", equalTo("HTTP 400 from Ollama: invalid option"))
                .body("result", nullValue());
    }

    @Test
    void aWaitingJobSaysWhyItWaits() {
        NewBatch batch = data.store(Batches.batch(BatchMode.PRIORITY).ollamaJobs(2, 1).ollamaJobs(1, 2));
        UUID groupTwo = jobId(batch, 2);
        assertThat(reason(groupTwo)).isEqualTo("priority group 1 of this batch is not finished (2 jobs left)");

        UUID first = jobId(batch, 0);
        assertThat(reason(first)).isEqualTo("no live executor: none has sent a heartbeat recently");

        data.executor("executor-c", 1, 0, "offline", List.of());
        assertThat(reason(first)).isEqualTo("the ollama backend is offline on every live executor (connection refused)");

        data.executor("executor-c", 1, 0, "online", List.of("llama3.2:3b"));
        assertThat(reason(first)).isEqualTo("no live executor offers model '" + LedgerData.MODEL + "' (available: llama3.2:3b)");

        data.executor("executor-c", 1, 1, "online", List.of(LedgerData.MODEL));
        assertThat(reason(first)).isEqualTo("waiting for a free ollama slot: all 1 are busy");

        // its one slot busy with another model loaded: model affinity makes the job wait, at most two minutes
        data.executor("executor-c", 1, 1, "online", List.of("llama3.2:3b", LedgerData.MODEL));
        assertThat(reason(first)).matches("waiting for an executor with " + LedgerData.MODEL + " loaded, or for one to"
                + " run out of work for its own \\(waited 0:0\\d of 2:00\\)");

        data.executor("executor-c", 1, 0, "online", List.of(LedgerData.MODEL));
        assertThat(reason(first)).isEqualTo("ready: a free ollama slot will claim it at its next poll");

        data.handBack(data.claim("executor-c", 1).get(0), "ollama busy (503)");
        assertThat(reason(first)).isEqualTo("ready: a free ollama slot will claim it at its next poll (earlier: ollama busy (503))");
    }

    @Test
    void aWorkflowSaysWhichCheckpointNoLiveExecutorHasAndWhenEveryOneKeepsItOff() {
        NewBatch batch = data.store(Batches.batch(BatchMode.PARALLEL).job("comfyui.workflow", null,
                "{\"workflow\": {\"4\": {\"class_type\": \"CheckpointLoaderSimple\","
                        + " \"inputs\": {\"ckpt_name\": \"sd_xl_base_1.0.safetensors\"}}}}", Duration.ofMinutes(5)));
        UUID workflow = jobId(batch, 0);
        data.comfyExecutor("executor-sd15", List.of("v1-5-pruned-emaonly-fp16.safetensors"));
        assertThat(reason(workflow)).isEqualTo("no live executor has checkpoint 'sd_xl_base_1.0.safetensors'");

        data.comfyExecutor("executor-sdxl", List.of("sd_xl_base_1.0.safetensors"));
        assertThat(reason(workflow)).isEqualTo("ready: a free comfyui slot will claim it at its next poll");

        ClaimedJob claimed = data.claims().claim("executor-sdxl", Map.of("comfyui", 1),
                new JobClaims.Offer(List.of(), List.of("sd_xl_base_1.0.safetensors"), List.of(), Duration.ZERO),
                JobClaims.newLeaseTokens(Map.of("comfyui", 1)), Duration.ofSeconds(30), null).get(0);
        data.outcomes().finish(List.of(new AttemptOutcome.HandBack(claimed.id(), claimed.leaseToken(),
                "comfyui on executor-sdxl cannot run it: node IPAdapterApply does not exist",
                AttemptOutcome.HandBack.Effect.AVOID_EXECUTOR)), null);
        assertThat(reason(workflow)).as("the other one lacks the checkpoint")
                .isEqualTo("no live executor has checkpoint 'sd_xl_base_1.0.safetensors'");
    }

    @Test
    void aSequentialBatchSaysWhichJobHoldsItsSlot() {
        NewBatch batch = data.store(Batches.batch(BatchMode.SEQUENTIAL).ollamaJobs(3, 1));
        assertThat(reason(jobId(batch, 1))).isEqualTo("this batch runs one job at a time: 'job-0' goes first");
        data.claim("executor-a", 3);
        assertThat(reason(jobId(batch, 1))).isEqualTo("this batch runs one job at a time: 'job-0' is running");
        given().get("/api/v1/jobs/" + jobId(batch, 0)).then().body("state", equalTo("running"))
                .body("waiting_reason", nullValue()).body("executor", equalTo("executor-a"));
    }

    @Test
    void aRetryingJobSaysUntilWhenItBacksOff() {
        NewBatch batch = data.store(Batches.batch(BatchMode.PARALLEL).retry(3, Duration.ofMinutes(10), 2.0).ollamaJobs(1, 1));
        data.fail(data.claim("executor-a", 1).get(0), "HTTP 500 from Ollama: boom", true);
        given().get("/api/v1/jobs/" + jobId(batch, 0)).then().statusCode(200)
                .body("state", equalTo("retry"))
                .body("waiting_reason", matchesPattern("backing off until \\d{4}-\\d\\d-\\d\\dT[0-9:.]+Z after attempt 1 failed"))
                .body("run_after", startsWith("20"));
    }

    @Test
    void theListFollowsBatchOrderFiltersByStateAndPagesWithoutGapsOrRepeats() {
        NewBatch batch = data.store(Batches.batch(BatchMode.PARALLEL).ollamaJobs(3, 2).ollamaJobs(4, 1));
        data.succeed(data.claim("executor-a", 1).get(0), "first");

        List<String> seen = new ArrayList<>();
        String after = null;
        do {
            var request = given().queryParam("batch", batch.id().toString()).queryParam("limit", 3);
            if (after != null) {
                request.queryParam("after", after);
            }
            JsonPath page = request.get("/api/v1/jobs").then().statusCode(200).extract().jsonPath();
            seen.addAll(page.getList("items.key"));
            after = page.getString("next_after");
        } while (after != null);
        assertThat(seen).as("job priority, then position").containsExactly(
                "job-3", "job-4", "job-5", "job-6", "job-0", "job-1", "job-2");

        given().queryParam("batch", batch.id().toString()).queryParam("state", "success").get("/api/v1/jobs").then()
                .statusCode(200).body("items.key", equalTo(List.of("job-3")))
                .body("items[0].result_preview", equalTo("first"));
        given().queryParam("batch", batch.id().toString()).queryParam("state", "pending,retry").get("/api/v1/jobs")
                .then().statusCode(200).body("items.size()", equalTo(6))
                .body("items[0].waiting_reason", startsWith("no live executor"));

        // across batches, newest first: every failed job once, whatever the page size
        int failedTotal = (int) data.inspect().count("select count(*) from job where state = 'failed'");
        HashSet<String> failed = new HashSet<>();
        String cursor = null;
        do {
            var request = given().queryParam("state", "failed").queryParam("limit", 2);
            if (cursor != null) {
                request.queryParam("after", cursor);
            }
            JsonPath page = request.get("/api/v1/jobs").then().statusCode(200).extract().jsonPath();
            assertThat(page.getList("items.state")).allMatch("failed"::equals);
            for (Object id : page.getList("items.id")) {
                assertThat(failed.add((String) id)).as("no repeats").isTrue();
            }
            cursor = page.getString("next_after");
        } while (cursor != null);
        assertThat(failed).hasSize(failedTotal);
    }

    @Test
    void unknownIdsAre404() {
        given().get("/api/v1/jobs/7f6c8a0e-4c1b-4c55-9d6f-2a8d9e1f0b3c").then().statusCode(404)
                .contentType("application/problem+json");
        given().get("/api/v1/jobs/../../etc/passwd").then().statusCode(404);
        given().queryParam("batch", "7f6c8a0e-4c1b-4c55-9d6f-2a8d9e1f0b3c").get("/api/v1/jobs").then().statusCode(404)
                .contentType("application/problem+json");
    }

    @Test
    void aPipelineJobShowsWhatItWaitsForAndTheStateOfEach() {
        NewBatch batch = data.store(Batches.batch(BatchMode.PARALLEL).retry(3, Duration.ofMinutes(5), 1.0)
                .step("bio", "Write Scorpion's bio")
                .step("look", "Describe Scorpion's look")
                .step("portrait", "Paint {{jobs.bio.text}} wearing {{jobs.look.text}}", "bio", "look"));
        UUID portrait = jobId(batch, 2);
        List<ClaimedJob> upstreams = data.claim("executor-a", 2);
        assertThat(reason(portrait)).isEqualTo("waiting for bio (running), look (running)");
        ClaimedJob bio = upstreams.stream().filter(j -> j.key().equals("bio")).findFirst().orElseThrow();
        ClaimedJob look = upstreams.stream().filter(j -> j.key().equals("look")).findFirst().orElseThrow();
        data.succeed(bio, "A ninja");
        data.fail(look, "HTTP 500 from Ollama: out of memory", true);

        JsonPath job = given().get("/api/v1/jobs/" + portrait).then().statusCode(200).extract().jsonPath();
        assertThat(job.getList("after", String.class)).containsExactly("bio", "look");
        assertThat(job.getList("upstreams.state", String.class)).containsExactly("success", "retry");
        assertThat(job.getString("upstreams[0].job_id")).isEqualTo(bio.id().toString());
        assertThat(job.getString("waiting_reason")).matches("waiting for look \\(retry in [45]:\\d\\d\\)");
        assertThat(given().queryParam("batch", batch.id().toString()).get("/api/v1/jobs").then().statusCode(200)
                .extract().jsonPath().getList("items.after", List.class))
                .containsExactly(List.of(), List.of(), List.of("bio", "look"));
    }
}
