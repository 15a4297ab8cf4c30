package dev.atelier.gateway.service;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;

import dev.atelier.store.testing.PostgresTestResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * The submit body's schema in the OpenAPI document (META-INF/openapi.yaml, written by hand) names exactly the fields
 * the validator takes: a field added to one and not the other fails here, not in a generated client.
 */
@QuarkusTest
@QuarkusTestResource(PostgresTestResource.class)
class BatchSchemaTests {

    private static Set<String> properties(String schema) {
        Map<String, Object> properties = given().queryParam("format", "json").get("/q/openapi").then().statusCode(200)
                .extract().path("components.schemas." + schema + ".properties");
        return new TreeSet<>(properties.keySet());
    }

    @Test
    void theBatchSchemaHasTheValidatorsFields() {
        assertThat(properties("BatchSubmission")).isEqualTo(new TreeSet<>(BatchRequestValidator.BATCH_FIELDS));
        assertThat(properties("RetrySettings")).isEqualTo(new TreeSet<>(BatchRequestValidator.RETRY_FIELDS));
    }

    @Test
    void theJobSchemaHasTheFieldsOfEveryJobAndEveryType() {
        Set<String> taken = new TreeSet<>(BatchRequestValidator.JOB_FIELDS);
        BatchRequestValidator.SPEC_FIELDS.values().forEach(taken::addAll);

        assertThat(properties("JobSubmission")).isEqualTo(taken);
    }

    @Test
    void theCrewTemplateSchemaHasEveryTypesFields() {
        Set<String> taken = new TreeSet<>(Set.of("type"));
        BatchRequestValidator.SPEC_FIELDS.values().forEach(taken::addAll);

        assertThat(properties("JobTemplate")).isEqualTo(taken);
    }
}
