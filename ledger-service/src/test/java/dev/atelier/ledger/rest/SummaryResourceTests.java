package dev.atelier.ledger.rest;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;

import dev.atelier.ledger.LedgerData;
import dev.atelier.store.BatchMode;
import dev.atelier.store.ClaimedJob;
import dev.atelier.store.NewBatch;
import dev.atelier.store.testing.Batches;
import dev.atelier.store.testing.PostgresTestResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import jakarta.inject.Inject;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

@QuarkusTest
@QuarkusTestResource(PostgresTestResource.class)
class SummaryResourceTests {

    @Inject
    LedgerData data;

    @BeforeEach
    void clean() {
        data.closeOpenJobs();
        data.forgetExecutors();
    }

    @Test
    void theSummaryHasExactlyTheFieldNamesDashboardsRead() {
        data.executor("executor-0-4f2a", 2, 1, "online", List.of(LedgerData.MODEL));
        JsonPath summary = given().get("/api/v1/summary").then().statusCode(200).extract().jsonPath();

        assertThat(summary.getMap("$").keySet()).containsExactlyInAnyOrder(
                "total_tasks", "status_counts", "services", "backends", "executors", "last_updated");
        assertThat(summary.getMap("status_counts").keySet()).containsExactly(
                "pending", "running", "retry", "success", "failed", "cancelled");
        assertThat(summary.getMap("services")).isEqualTo(Map.of("ollama", "online", "comfyui", "offline"));
        assertThat(summary.getMap("backends[0]").keySet()).containsExactlyInAnyOrder(
                "name", "kind", "url", "status", "models", "checked_at", "detail", "loaded");
        assertThat(summary.getString("backends[0].name")).isEqualTo("ollama@executor-0-4f2a");
        assertThat(summary.getList("backends[0].models")).containsExactly(LedgerData.MODEL);
        assertThat(summary.getMap("backends[0].loaded[0]")).isEqualTo(Map.of("name", LedgerData.MODEL,
                "size_vram", LedgerData.LOADED_VRAM, "expires_at", LedgerData.LOADED_UNTIL.toString()));
        assertThat(summary.getMap("executors[0]").keySet()).containsExactlyInAnyOrder(
                "id", "started_at", "last_seen", "slots", "busy", "draining", "draining_since");
        assertThat(summary.getBoolean("executors[0].draining")).isFalse();
        assertThat(summary.getMap("executors[0].slots")).isEqualTo(Map.of("ollama", 2, "comfyui", 0));
        assertThat(summary.getMap("executors[0].busy")).isEqualTo(Map.of("ollama", 1, "comfyui", 0));
        assertThat(summary.getString("last_updated")).matches("\\d{4}-\\d\\d-\\d\\dT.*Z");
    }

    @Test
    void aDrainingExecutorSaysSoAndSinceWhen() {
        Instant since = Instant.parse("2026-12-04T21:30:00Z");
        data.executor("executor-1-draining", 2, 1, "online", List.of(LedgerData.MODEL), since);
        data.executor("executor-2-claiming", 2, 0, "online", List.of(LedgerData.MODEL));
        given().get("/api/v1/summary").then().statusCode(200)
                .body("executors.find { it.id == 'executor-1-draining' }.draining", equalTo(true))
                .body("executors.find { it.id == 'executor-1-draining' }.draining_since", equalTo(since.toString()))
                .body("executors.find { it.id == 'executor-2-claiming' }.draining", equalTo(false))
                .body("executors.find { it.id == 'executor-2-claiming' }.draining_since", org.hamcrest.Matchers.nullValue());
    }

    @Test
    void totalsCountEveryJobAndAgreeWithTheJobTable() {
        NewBatch batch = data.store(Batches.batch(BatchMode.PARALLEL).ollamaJobs(5, 1));
        List<ClaimedJob> claimed = data.claim("executor-a", 3);
        data.succeed(claimed.get(0), "done");
        data.fail(claimed.get(1), "HTTP 400 from Ollama: bad option", false);

        JsonPath all = given().get("/api/v1/summary").then().statusCode(200).extract().jsonPath();
        var inspect = data.inspect();
        assertThat(all.getLong("total_tasks")).isEqualTo(inspect.count("select count(*) from job"));
        for (String state : List.of("pending", "running", "retry", "success", "failed", "cancelled")) {
            assertThat(all.getLong("status_counts." + state)).as(state)
                    .isEqualTo(inspect.count("select count(*) from job where state = '" + state + "'"));
        }

        given().queryParam("batch", batch.id().toString()).get("/api/v1/summary").then().statusCode(200)
                .body("total_tasks", equalTo(5))
                .body("status_counts.pending", equalTo(2))
                .body("status_counts.running", equalTo(1))
                .body("status_counts.success", equalTo(1))
                .body("status_counts.failed", equalTo(1));
    }

    @Test
    void theLabelFilterCountsOnlyBatchesCarryingEveryLabel() {
        String project = "mk1-" + System.nanoTime();
        data.store(Batches.batch(BatchMode.PARALLEL).labels("{\"project\": \"" + project + "\", \"team\": \"art\"}")
                .ollamaJobs(3, 1));
        data.store(Batches.batch(BatchMode.PARALLEL).labels("{\"project\": \"" + project + "\"}").ollamaJobs(2, 1));
        data.store(Batches.batch(BatchMode.PARALLEL).labels("{\"project\": \"other\"}").ollamaJobs(7, 1));

        given().queryParam("label", "project:" + project).get("/api/v1/summary").then().statusCode(200)
                .body("total_tasks", equalTo(5));
        given().queryParam("label", "project:" + project).queryParam("label", "team:art").get("/api/v1/summary")
                .then().statusCode(200).body("total_tasks", equalTo(3));
        given().queryParam("label", "project:nobody").get("/api/v1/summary").then().statusCode(200)
                .body("total_tasks", equalTo(0));
    }

    @Test
    void servicesTakeTheBestStatusAmongLiveExecutorsOnly() {
        data.executor("executor-down", 1, 0, "offline", List.of());
        data.staleExecutor("executor-gone");
        given().get("/api/v1/summary").then().statusCode(200)
                .body("services.ollama", equalTo("offline"))
                .body("executors.id", equalTo(List.of("executor-down")));

        data.executor("executor-slow", 1, 0, "degraded", List.of(LedgerData.MODEL));
        given().get("/api/v1/summary").then().body("services.ollama", equalTo("degraded"));

        data.executor("executor-up", 1, 0, "online", List.of(LedgerData.MODEL));
        given().get("/api/v1/summary").then().body("services.ollama", equalTo("online"))
                .body("backends.name", equalTo(List.of("ollama@executor-down", "ollama@executor-slow",
                        "ollama@executor-up")));
    }

    @Test
    void anUnknownBatchIsA404AndBadFiltersA400NamingThem() {
        given().queryParam("batch", "7f6c8a0e-4c1b-4c55-9d6f-2a8d9e1f0b3c").get("/api/v1/summary").then()
                .statusCode(404).contentType("application/problem+json");
        given().queryParam("batch", "nope").queryParam("label", "no-colon").get("/api/v1/summary").then()
                .statusCode(400).contentType("application/problem+json")
                .body("errors.field", equalTo(List.of("batch", "label")));
    }
}
