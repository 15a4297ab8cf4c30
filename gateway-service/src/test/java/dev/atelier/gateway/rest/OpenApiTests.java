package dev.atelier.gateway.rest;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;

import dev.atelier.store.testing.PostgresTestResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** /q/openapi documents every gateway operation with a description and an example. */
@QuarkusTest
@QuarkusTestResource(PostgresTestResource.class)
class OpenApiTests {

    @Test
    @SuppressWarnings("unchecked")
    void everyOperationHasADescriptionAndAnExample() {
        Map<String, Map<String, Map<String, Object>>> paths = given().queryParam("format", "json").get("/q/openapi")
                .then().statusCode(200).extract().path("paths");

        assertThat(paths).containsKeys("/api/v1/batches", "/api/v1/batches/{id}", "/api/v1/batches/{id}/cancel",
                "/api/v1/batches/{id}/retry-failed", "/api/v1/jobs/{id}/cancel", "/api/v1/jobs/{id}/retry",
                "/api/v1/crews", "/api/v1/crews/{name}");
        paths.forEach((path, operations) -> operations.forEach((method, operation) -> {
            assertThat(operation.get("description")).as(method + " " + path + " description").isNotNull();
            assertThat(operation.toString()).as(method + " " + path + " example").contains("example");
        }));
    }
}
