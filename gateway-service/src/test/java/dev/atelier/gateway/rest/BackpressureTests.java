package dev.atelier.gateway.rest;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;

import dev.atelier.store.BatchMode;
import dev.atelier.store.JobCounts;
import dev.atelier.store.JobIntake;
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

/**
 * Above this cluster's ceilings, a request is told to come back and changes nothing: too many open jobs is a 429,
 * every database connection of the server in use a 503, both with Retry-After.
 */
@QuarkusTest
@QuarkusTestResource(PostgresTestResource.class)
@TestProfile(BackpressureTests.LowCeiling.class)
class BackpressureTests {

    public static class LowCeiling implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("atelier.gateway.max-open-jobs", "5", "atelier.gateway.open-jobs-cache", "PT0S",
                    "quarkus.datasource.jdbc.max-size", "2", "quarkus.datasource.jdbc.acquisition-timeout", "PT1S");
        }
    }

    @Inject
    JobIntake intake;

    @Inject
    JobCounts counts;

    @Inject
    javax.sql.DataSource dataSource;

    @Test
    void anExhaustedConnectionPoolIs503WithRetryAfterNot500() throws Exception {
        String small = "{\"name\": \"pool\", \"jobs\": [{\"type\": \"ollama.generate\", \"model\": \"m\", \"prompt\": \"p\"}]}";
        long batches = counts.open();
        // hold both of the pool's connections, as a burst of slow requests would
        try (var first = dataSource.getConnection(); var second = dataSource.getConnection()) {
            given().get("/api/v1/crews").then().statusCode(503).contentType("application/problem+json")
                    .header("Retry-After", equalTo("5")).body("detail", containsString("connection of this server is busy"));
            given().contentType(ContentType.JSON).header("Idempotency-Key", "pool-1").body(small).post("/api/v1/batches")
                    .then().statusCode(503).contentType("application/problem+json").header("Retry-After", equalTo("5"));
        }
        assertThat(counts.open()).as("nothing was stored").isEqualTo(batches);
        given().get("/api/v1/crews").then().statusCode(200);
    }

    @Test
    void aSubmitAboveTheCeilingIs429WithRetryAfter() {
        String small = "{\"name\": \"small\", \"jobs\": [{\"type\": \"ollama.generate\", \"model\": \"m\", \"prompt\": \"p\"}]}";
        long before = counts.open();
        if (before <= 5) {
            intake.insertBatch(Batches.batch(BatchMode.PARALLEL).ollamaJobs((int) (6 - before), 1).build());
        }
        long open = counts.open();
        assertThat(open).isGreaterThan(5);

        given().contentType(ContentType.JSON).body(small).post("/api/v1/batches")
                .then().statusCode(429).contentType("application/problem+json")
                .header("Retry-After", equalTo("5"))
                .body("detail", containsString("ceiling of 5"));
        assertThat(counts.open()).isEqualTo(open);
    }
}
