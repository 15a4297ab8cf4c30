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

    /** The served document's paths: each path's operations by method. */
    private static Map<String, Map<String, Map<String, Object>>> paths() {
        return given().queryParam("format", "json").get("/q/openapi").then().statusCode(200).extract().path("paths");
    }

    @Test
    void everyOperationHasADescriptionAndAnExample() {
        Map<String, Map<String, Map<String, Object>>> paths = paths();

        assertThat(paths).containsKeys("/api/v1/batches", "/api/v1/batches/{id}", "/api/v1/batches/{id}/cancel",
                "/api/v1/batches/{id}/retry-failed", "/api/v1/jobs/{id}/cancel", "/api/v1/jobs/{id}/retry",
                "/api/v1/crews", "/api/v1/crews/{name}");
        paths.forEach((path, operations) -> operations.forEach((method, operation) -> {
            assertThat(operation.get("description")).as(method + " " + path + " description").isNotNull();
            assertThat(operation.toString()).as(method + " " + path + " example").contains("example");
        }));
    }

    /**
     * A generated client names its methods after the operationIds: each is set by hand, readable and stable, so that a
     * path that moves does not rename a client's method (#24). A change here is a change of contract.
     */
    @Test
    void everyOperationHasTheOperationIdClientsAreGeneratedWith() {
        Map<String, Object> ids = new java.util.TreeMap<>();
        paths().forEach((path, operations) -> operations.forEach((method, operation) ->
                ids.put(method.toUpperCase(java.util.Locale.ROOT) + " " + path, operation.get("operationId"))));

        assertThat(ids).containsExactlyInAnyOrderEntriesOf(Map.ofEntries(
                Map.entry("POST /api/v1/batches", "submitBatch"),
                Map.entry("GET /api/v1/batches/{id}", "getBatch"),
                Map.entry("DELETE /api/v1/batches/{id}", "deleteBatch"),
                Map.entry("POST /api/v1/batches/{id}/cancel", "cancelBatch"),
                Map.entry("POST /api/v1/batches/{id}/retry-failed", "retryFailedJobs"),
                Map.entry("POST /api/v1/jobs/{id}/cancel", "cancelJob"),
                Map.entry("POST /api/v1/jobs/{id}/retry", "retryJob"),
                Map.entry("GET /api/v1/crews", "listCrews"),
                Map.entry("GET /api/v1/crews/{name}", "getCrew"),
                Map.entry("PUT /api/v1/crews/{name}", "putCrew"),
                Map.entry("DELETE /api/v1/crews/{name}", "deleteCrew")));
    }
}
