package dev.atelier.gateway.rest;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;

import dev.atelier.store.BatchMode;
import dev.atelier.store.JobQueue;
import dev.atelier.store.testing.Batches;
import dev.atelier.store.testing.PostgresTestResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.http.ContentType;
import jakarta.inject.Inject;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Above the ceiling of open jobs, a submit is a 429 with Retry-After and stores nothing. */
@QuarkusTest
@QuarkusTestResource(PostgresTestResource.class)
@TestProfile(BackpressureTests.LowCeiling.class)
class BackpressureTests {

    public static class LowCeiling implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("atelier.gateway.max-open-jobs", "5", "atelier.gateway.open-jobs-cache", "PT0S");
        }
    }

    @Inject
    JobQueue queue;

    @Test
    void aSubmitAboveTheCeilingIs429WithRetryAfter() {
        String small = "{\"name\": \"small\", \"jobs\": [{\"type\": \"ollama.generate\", \"model\": \"m\", \"prompt\": \"p\"}]}";
        long before = queue.countOpen();
        if (before <= 5) {
            queue.insertBatch(Batches.batch(BatchMode.PARALLEL).ollamaJobs((int) (6 - before), 1).build());
        }
        long open = queue.countOpen();
        assertThat(open).isGreaterThan(5);

        given().contentType(ContentType.JSON).body(small).post("/api/v1/batches")
                .then().statusCode(429).contentType("application/problem+json")
                .header("Retry-After", equalTo("5"))
                .body("detail", containsString("ceiling of 5"));
        assertThat(queue.countOpen()).isEqualTo(open);
    }
}
