package dev.atelier.ledger.rest;

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

/** What /q/openapi says of the ledger's operations. */
@QuarkusTest
@QuarkusTestResource(PostgresTestResource.class)
class OpenApiTests implements PublishedDocumentContract {

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
                Map.entry("GET /api/v1/batches", "listBatches"),
                Map.entry("GET /api/v1/batches/{id}", "getBatch"),
                Map.entry("POST /api/v1/batches/{id}/cancel", "cancelBatch"),
                Map.entry("POST /api/v1/batches/{id}/retry-failed", "retryFailedJobs"),
                Map.entry("GET /api/v1/jobs", "listJobs"),
                Map.entry("GET /api/v1/jobs/{id}", "getJob"),
                Map.entry("POST /api/v1/jobs/{id}/cancel", "cancelJob"),
                Map.entry("POST /api/v1/jobs/{id}/retry", "retryJob"),
                Map.entry("GET /api/v1/artifacts", "listArtifacts"),
                Map.entry("GET /api/v1/artifacts/{id}", "getArtifact"),
                Map.entry("GET /api/v1/exports/ledger.jsonl", "exportLedger"),
                Map.entry("GET /api/v1/exports/events.jsonl", "exportEvents"),
                Map.entry("GET /api/v1/summary", "getSummary"),
                Map.entry("GET /api/v1/history", "getHistory"),
                Map.entry("GET /api/v1/stream-ticket", "getStreamTicket"),
                Map.entry("GET /events", "streamChanges")));
    }

    /**
     * Every /api/** operation needs the bearer token and names the role it needs; the change stream, which a browser
     * opens without headers, needs its ticket instead.
     */
    @Test
    @SuppressWarnings("unchecked")
    void everyOperationSaysWhatItNeeds() {
        Map<String, Map<String, Map<String, Object>>> paths = servedPaths();
        paths.forEach((path, operations) -> operations.forEach((method, operation) -> {
            String name = method.toUpperCase(Locale.ROOT) + " " + path;
            String role = method.equals("get") ? "read" : "submit";
            String scheme = path.equals("/events") ? "ticket" : "bearer";
            assertThat(operation.get("security")).as(name).isEqualTo(List.of(Map.of(scheme, List.of())));
            assertThat(operation.get("x-atelier-role")).as(name).isEqualTo(scheme.equals("ticket") ? null : role);
            assertThat((Map<String, Object>) operation.get("responses")).as(name).containsKey("401");
        }));
    }

    @Override
    public String publishedName() {
        return "ledger";
    }
}
