package dev.atelier.store.testing;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;

import dev.atelier.store.BatchMode;
import dev.atelier.store.ClaimedJob;
import dev.atelier.store.JobClaims;
import dev.atelier.store.JobControl;
import dev.atelier.store.JobIntake;
import dev.atelier.store.NewBatch;
import jakarta.inject.Inject;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/**
 * What every service promises at start: it migrates a real PostgreSQL, reports itself healthy with a database
 * readiness check, serves metrics and OpenAPI, and runs the queue on its own connection pool. Each service's {@code HealthTests} runs these as a
 * {@code @QuarkusTest} with {@link PostgresTestResource}.
 */
public abstract class ServiceHealthContract {

    @Inject
    DataSource dataSource;

    @Inject
    JobIntake intake;

    @Inject
    JobClaims claims;

    @Inject
    JobControl control;

    @Test
    void readyIncludesTheDatabase() {
        given().when().get("/q/health/ready")
                .then().statusCode(200)
                .body("status", equalTo("UP"))
                .body("checks.name", hasItem("Database connections health check"));
    }

    @Test
    void liveAndStartedAreUp() {
        given().when().get("/q/health/live").then().statusCode(200).body("status", equalTo("UP"));
        given().when().get("/q/health/started").then().statusCode(200).body("status", equalTo("UP"));
    }

    @Test
    void migratedTheSchemaAtStart() throws Exception {
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("select version from flyway_schema_history where success order by installed_rank")) {
            assertThat(rs.next()).isTrue();
            assertThat(rs.getString(1)).isEqualTo("1");
        }
    }

    @Test
    void usesADatabaseOfItsOwnWhateverTheEnvironmentSays() throws Exception {
        try (Connection c = dataSource.getConnection()) {
            assertThat(c.getCatalog()).startsWith("atelier_test_");
        }
    }

    @Test
    void theQueueRunsOnTheServicesConnectionPool() {
        // a model of its own, so the claim cannot take other tests' jobs from the shared database
        String model = "health-check-" + java.util.UUID.randomUUID();
        NewBatch batch = Batches.batch(BatchMode.PARALLEL).jobs(2, 1, "ollama.generate", model).build();
        assertThat(intake.insertBatch(batch).created()).isTrue();

        List<ClaimedJob> claimed = claims.claim("health-check", Map.of("ollama", 2), List.of(model),
                Duration.ofSeconds(30), null);

        assertThat(claimed).extracting(ClaimedJob::batchId).containsOnly(batch.id()).hasSize(2);
        assertThat(control.cancelBatch(batch.id(), null).cancelRequested()).isEqualTo(2);
    }

    @Test
    void servesMetricsAndOpenApi() {
        given().when().get("/q/metrics").then().statusCode(200);
        given().when().get("/q/openapi").then().statusCode(200);
    }
}
