package dev.atelier.gateway.rest;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasSize;
import static org.hamcrest.Matchers.notNullValue;
import static org.hamcrest.Matchers.nullValue;

import dev.atelier.store.AttemptOutcome;
import dev.atelier.store.AttemptOutcomes;
import dev.atelier.store.BatchMode;
import dev.atelier.store.ClaimedJob;
import dev.atelier.store.JobClaims;
import dev.atelier.store.JobIntake;
import dev.atelier.store.NewBatch;
import dev.atelier.store.testing.Batches;
import dev.atelier.store.testing.PostgresTestResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** GET a batch, cancel and retry-failed it, and cancel or retry one job (API.md, gateway). */
@QuarkusTest
@QuarkusTestResource(PostgresTestResource.class)
class BatchAndJobResourceTests {

    private static final String PROBLEM = "application/problem+json";

    @Inject
    JobIntake intake;

    @Inject
    JobClaims claims;

    @Inject
    AttemptOutcomes outcomes;

    /** Stores a batch straight through the queue (submitting over HTTP is tested with POST /batches). */
    private NewBatch stored(Batches batch) {
        NewBatch b = batch.build();
        intake.insertBatch(b);
        return b;
    }

    /** Claims jobs of this model only, so other tests' batches in the shared database are left alone. */
    private List<ClaimedJob> claim(String model, int n) {
        return claims.claim("test-executor", Map.of("ollama", n), List.of(model), Duration.ofMinutes(5), null);
    }

    @Test
    void aNewBatchIsPendingWithItsJobsAndGroups() {
        NewBatch b = stored(Batches.batch(BatchMode.PRIORITY).priority(900).ollamaJobs(2, 1).ollamaJobs(1, 2));

        given().get("/api/v1/batches/" + b.id()).then().statusCode(200)
                .body("id", equalTo(b.id().toString()))
                .body("mode", equalTo("priority"))
                .body("priority", equalTo(900))
                .body("state", equalTo("pending"))
                .body("status_counts.pending", equalTo(3))
                .body("status_counts.success", equalTo(0))
                .body("progress", equalTo(0.0f))
                .body("started_at", nullValue())
                .body("groups", hasSize(2))
                .body("groups[0].priority", equalTo(1))
                .body("groups[0].status_counts.pending", equalTo(2))
                .body("jobs", hasSize(3))
                .body("jobs[0].key", equalTo("job-0"))
                .body("jobs[0].state", equalTo("pending"))
                .body("created_at", notNullValue());
    }

    @Test
    void aBatchThatRanAndFailedShowsItsProgressAndState() {
        String model = "model-" + UUID.randomUUID();
        NewBatch b = stored(Batches.batch(BatchMode.PARALLEL).retry(1, Duration.ZERO, 1.0)
                .jobs(2, 1, "ollama.generate", model));
        List<ClaimedJob> running = claim(model, 2);
        outcomes.finish(List.of(
                new AttemptOutcome.Success(running.get(0).id(), running.get(0).leaseToken(), "{\"text\": \"ok\"}"),
                new AttemptOutcome.Failure(running.get(1).id(), running.get(1).leaseToken(), "HTTP 400", false)), null);

        given().get("/api/v1/batches/" + b.id()).then().statusCode(200)
                .body("state", equalTo("failed"))
                .body("progress", equalTo(1.0f))
                .body("finished_at", notNullValue())
                .body("elapsed_sec", org.hamcrest.Matchers.lessThan(60f))
                .body("status_counts.success", equalTo(1))
                .body("status_counts.failed", equalTo(1));

        given().post("/api/v1/batches/" + b.id() + "/retry-failed").then().statusCode(202)
                .body("state", equalTo("running"))
                .body("status_counts.pending", equalTo(1));
    }

    @Test
    void cancellingABatchIsAcceptedAndIdempotent() {
        NewBatch b = stored(Batches.batch(BatchMode.PARALLEL).priority(1000).ollamaJobs(3, 1));

        given().post("/api/v1/batches/" + b.id() + "/cancel").then().statusCode(202)
                .body("state", equalTo("cancelled"))
                .body("status_counts.cancelled", equalTo(3));
        given().post("/api/v1/batches/" + b.id() + "/cancel").then().statusCode(202).body("state", equalTo("cancelled"));
    }

    @Test
    void jobsCanBeCancelledAndRetried() {
        NewBatch b = stored(Batches.batch(BatchMode.PARALLEL).priority(1000).ollamaJobs(2, 1));
        UUID first = b.jobs().get(0).id();

        given().post("/api/v1/jobs/" + first + "/retry").then().statusCode(409).contentType(PROBLEM)
                .body("detail", containsString("neither failed nor cancelled"));
        given().post("/api/v1/jobs/" + first + "/cancel").then().statusCode(202).body("cancelled", equalTo(true));
        given().post("/api/v1/jobs/" + first + "/cancel").then().statusCode(202).body("cancelled", equalTo(false));
        given().post("/api/v1/jobs/" + first + "/retry").then().statusCode(202).body("state", equalTo("pending"));
        given().get("/api/v1/batches/" + b.id()).then().body("status_counts.pending", equalTo(2));
    }

    @Test
    void aBatchIsDeletedOnlyOnceEveryJobHasEnded() {
        NewBatch b = stored(Batches.batch(BatchMode.PARALLEL).priority(1000).ollamaJobs(2, 1));
        String keys = b.jobs().get(0).key() + ", " + b.jobs().get(1).key();

        given().delete("/api/v1/batches/" + b.id()).then().statusCode(409).contentType(PROBLEM)
                .body("detail", containsString("has 2 job(s) that have not ended"))
                .body("detail", containsString(keys));
        given().get("/api/v1/batches/" + b.id()).then().statusCode(200).body("status_counts.pending", equalTo(2));

        given().post("/api/v1/batches/" + b.id() + "/cancel").then().statusCode(202);
        given().delete("/api/v1/batches/" + b.id()).then().statusCode(204);
        given().get("/api/v1/batches/" + b.id()).then().statusCode(404).contentType(PROBLEM);
        given().post("/api/v1/jobs/" + b.jobs().get(0).id() + "/retry").then().statusCode(404);
        given().delete("/api/v1/batches/" + b.id()).then().statusCode(404).contentType(PROBLEM);
        given().delete("/api/v1/batches/not-a-uuid").then().statusCode(404).contentType(PROBLEM);
    }

    @Test
    void unknownIdsAre404Problems() {
        UUID nobody = UUID.randomUUID();
        for (String path : List.of("/api/v1/batches/" + nobody, "/api/v1/batches/not-a-uuid")) {
            given().get(path).then().statusCode(404).contentType(PROBLEM).body("status", equalTo(404));
        }
        for (String path : List.of("/api/v1/batches/" + nobody + "/cancel", "/api/v1/batches/" + nobody + "/retry-failed",
                "/api/v1/jobs/" + nobody + "/cancel", "/api/v1/jobs/" + nobody + "/retry", "/api/v1/jobs/x/retry")) {
            given().post(path).then().statusCode(404).contentType(PROBLEM);
        }
    }
}
