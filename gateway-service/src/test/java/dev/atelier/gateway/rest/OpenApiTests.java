package dev.atelier.gateway.rest;

import static org.assertj.core.api.Assertions.assertThat;

import dev.atelier.store.testing.PostgresTestResource;
import dev.atelier.store.testing.PublishedDocumentContract;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** What /q/openapi says of the gateway's operations (#24). */
@QuarkusTest
@QuarkusTestResource(PostgresTestResource.class)
@SuppressWarnings("unchecked")
class OpenApiTests implements PublishedDocumentContract {

    /** Each operation says what it does, and each body it answers with has a schema a client can be generated from. */
    @Test
    void everyOperationHasADescriptionAndEveryAnswerASchema() {
        Map<String, Map<String, Map<String, Object>>> paths = servedPaths();

        assertThat(paths).containsKeys("/api/v1/batches", "/api/v1/batches/{id}", "/api/v1/batches/{id}/cancel",
                "/api/v1/batches/{id}/retry-failed", "/api/v1/jobs/{id}/cancel", "/api/v1/jobs/{id}/retry",
                "/api/v1/crews", "/api/v1/crews/{name}");
        paths.forEach((path, operations) -> operations.forEach((method, operation) -> {
            assertThat(operation.get("description")).as(method + " " + path + " description").isNotNull();
            responses(operation).forEach((status, response) -> {
                Map<String, Map<String, Object>> content = (Map<String, Map<String, Object>>) response.get("content");
                if (content != null) {
                    content.forEach((type, media) -> assertThat(media)
                            .as(method + " " + path + " " + status + " " + type).containsKey("schema"));
                }
            });
        }));
    }

    /**
     * Every /api/** operation needs the bearer token, names the role it needs (the least for its method, admin for
     * crews' writes), and documents 401, plus 403 where a read token is refused. Every 4xx is a problem.
     */
    @Test
    void everyOperationNamesTheRoleItNeedsAndEveryErrorIsAProblem() {
        Map<String, Object> roles = new TreeMap<>();
        servedPaths().forEach((path, operations) -> operations.forEach((method, operation) -> {
            String name = method.toUpperCase(Locale.ROOT) + " " + path;
            roles.put(name, operation.get("x-atelier-role"));
            assertThat(operation.get("security")).as(name).isEqualTo(List.of(Map.of("bearer", List.of())));
            assertThat((String) operation.get("description")).as(name)
                    .endsWith("Needs " + (operation.get("x-atelier-role").equals("admin") ? "an " : "a ")
                            + operation.get("x-atelier-role") + " token.");
            Map<String, Map<String, Object>> responses = responses(operation);
            assertThat(responses).as(name).containsKeys("400", "401");
            assertThat(responses.containsKey("403")).as(name + " 403").isEqualTo(!method.equals("get"));
            responses.forEach((status, response) -> {
                if (status.startsWith("4")) {
                    assertThat(response.toString()).as(name + " " + status)
                            .containsAnyOf("#/components/responses/", "#/components/schemas/Problem");
                }
            });
        }));

        assertThat(roles).containsExactlyInAnyOrderEntriesOf(Map.ofEntries(
                Map.entry("POST /api/v1/batches", "submit"),
                Map.entry("GET /api/v1/batches/{id}", "read"),
                Map.entry("DELETE /api/v1/batches/{id}", "submit"),
                Map.entry("POST /api/v1/batches/{id}/cancel", "submit"),
                Map.entry("POST /api/v1/batches/{id}/retry-failed", "submit"),
                Map.entry("POST /api/v1/jobs/{id}/cancel", "submit"),
                Map.entry("POST /api/v1/jobs/{id}/retry", "submit"),
                Map.entry("GET /api/v1/crews", "read"),
                Map.entry("GET /api/v1/crews/{name}", "read"),
                Map.entry("PUT /api/v1/crews/{name}", "admin"),
                Map.entry("DELETE /api/v1/crews/{name}", "admin")));
    }

    @Override
    public String publishedName() {
        return "gateway";
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Map<String, Object>> responses(Map<String, Object> operation) {
        return (Map<String, Map<String, Object>>) operation.get("responses");
    }

    /**
     * A generated client names its methods after the operationIds: each is set by hand, readable and stable, so that a
     * path that moves does not rename a client's method (#24). A change here is a change of contract.
     */
    @Test
    void everyOperationHasTheOperationIdClientsAreGeneratedWith() {
        Map<String, Object> ids = new TreeMap<>();
        servedPaths().forEach((path, operations) -> operations.forEach((method, operation) ->
                ids.put(method.toUpperCase(Locale.ROOT) + " " + path, operation.get("operationId"))));

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
