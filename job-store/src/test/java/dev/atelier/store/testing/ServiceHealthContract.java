package dev.atelier.store.testing;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;

import jakarta.inject.Inject;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/**
 * What every service promises at start: it migrates a real PostgreSQL, reports itself healthy with a database
 * readiness check, and serves metrics and OpenAPI. Each service's {@code HealthTests} runs these as a
 * {@code @QuarkusTest} with {@link PostgresTestResource}.
 */
public abstract class ServiceHealthContract {

    @Inject
    DataSource dataSource;

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
    void servesMetricsAndOpenApi() {
        given().when().get("/q/metrics").then().statusCode(200);
        given().when().get("/q/openapi").then().statusCode(200);
    }
}
