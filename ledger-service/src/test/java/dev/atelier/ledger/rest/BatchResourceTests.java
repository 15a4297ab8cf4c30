package dev.atelier.ledger.rest;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.nullValue;

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
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

@QuarkusTest
@QuarkusTestResource(PostgresTestResource.class)
class BatchResourceTests {

    @Inject
    LedgerData data;

    @BeforeEach
    void clean() {
        data.closeOpenJobs();
    }

    @Test
    void oneBatchHasCountsProgressGroupsTimingsAndJobs() {
        NewBatch batch = data.store(Batches.batch(BatchMode.PRIORITY).name("mk1-roster")
                .labels("{\"project\": \"mk1\"}").ollamaJobs(2, 1).ollamaJobs(2, 2));
        List<ClaimedJob> first = data.claim("executor-a", 4);
        assertThat(first).as("the priority gate lets only group 1 run").hasSize(2);
        data.succeed(first.get(0), "Scorpion");

        JsonPath batchJson = given().get("/api/v1/batches/" + batch.id()).then().statusCode(200).extract().jsonPath();
        assertThat(batchJson.getString("name")).isEqualTo("mk1-roster");
        assertThat(batchJson.getString("state")).isEqualTo("running");
        assertThat(batchJson.getString("labels.project")).isEqualTo("mk1");
        assertThat(batchJson.getInt("status_counts.success")).isEqualTo(1);
        assertThat(batchJson.getInt("status_counts.running")).isEqualTo(1);
        assertThat(batchJson.getInt("status_counts.pending")).isEqualTo(2);
        assertThat(batchJson.getDouble("progress")).isEqualTo(0.25);
        assertThat(batchJson.getList("groups.priority")).containsExactly(1, 2);
        assertThat(batchJson.getInt("groups[1].status_counts.pending")).isEqualTo(2);
        assertThat(batchJson.getString("started_at")).isNotNull();
        assertThat(batchJson.getString("finished_at")).isNull();
        assertThat(batchJson.getList("jobs.key")).containsExactly("job-0", "job-1", "job-2", "job-3");
    }

    @Test
    void theListIsNewestFirstKeysetPagedAndFilteredByStateAndLabel() {
        String project = "paged-" + System.nanoTime();
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            ids.add(0, data.store(Batches.batch(BatchMode.PARALLEL).name("batch " + i)
                    .labels("{\"project\": \"" + project + "\"}").ollamaJobs(1, 1)).id().toString());
        }
        List<String> seen = new ArrayList<>();
        String after = null;
        do {
            var request = given().queryParam("label", "project:" + project).queryParam("limit", 2);
            if (after != null) {
                request.queryParam("after", after);
            }
            JsonPath page = request.get("/api/v1/batches").then().statusCode(200).extract().jsonPath();
            assertThat(page.getList("items")).hasSizeLessThanOrEqualTo(2);
            seen.addAll(page.getList("items.id"));
            after = page.getString("next_after");
        } while (after != null);
        assertThat(seen).as("newest first, each once").containsExactlyElementsOf(ids);

        JsonPath first = given().queryParam("label", "project:" + project).queryParam("limit", 1)
                .get("/api/v1/batches").then().extract().jsonPath();
        assertThat(first.getMap("items[0]").keySet()).contains("id", "name", "mode", "priority", "state", "labels",
                "submitted_by", "created_at", "total_tasks", "status_counts", "progress", "groups");

        // finish the oldest: it alone is a success
        List<ClaimedJob> claimed = data.claim("executor-a", 5);
        ClaimedJob oldest = claimed.stream().filter(j -> j.batchId().toString().equals(ids.get(4))).findFirst().orElseThrow();
        data.succeed(oldest, "done");
        given().queryParam("label", "project:" + project).queryParam("state", "success").get("/api/v1/batches").then()
                .statusCode(200).body("items.id", equalTo(List.of(ids.get(4))))
                .body("items[0].progress", equalTo(1.0f)).body("next_after", nullValue());
        given().queryParam("label", "project:" + project).queryParam("state", "running,pending").get("/api/v1/batches")
                .then().statusCode(200).body("items.size()", equalTo(4));
        // what a prune would delete: batches settled as finished before a time
        data.foldCounts();
        given().queryParam("label", "project:" + project).queryParam("finished_before", Instant.now().plusSeconds(60).toString())
                .get("/api/v1/batches").then().statusCode(200).body("items.id", equalTo(List.of(ids.get(4))));
        given().queryParam("label", "project:" + project).queryParam("finished_before", Instant.now().minusSeconds(3600).toString())
                .get("/api/v1/batches").then().statusCode(200).body("items.size()", equalTo(0));
        // the list and the single batch derive the same state
        for (String id : ids) {
            String listed = given().queryParam("label", "project:" + project).queryParam("limit", 10).get("/api/v1/batches")
                    .then().extract().jsonPath().getString("items.find { it.id == '" + id + "' }.state");
            given().get("/api/v1/batches/" + id).then().body("state", equalTo(listed));
        }
    }

    @Test
    void theListIsSearchedByNameIgnoringCaseAndAHostileSearchIsA400() {
        String project = "search-" + System.nanoTime();
        String labels = "{\"project\": \"" + project + "\"}";
        NewBatch portraits = data.store(Batches.batch(BatchMode.PARALLEL).name("MK1 Portraits").labels(labels).ollamaJobs(1, 1));
        data.store(Batches.batch(BatchMode.PARALLEL).name("mk1-roster").labels(labels).ollamaJobs(1, 1));
        data.store(Batches.batch(BatchMode.PARALLEL).name("100%_done").labels(labels).ollamaJobs(1, 1));
        given().queryParam("label", "project:" + project).queryParam("name", "portr").get("/api/v1/batches").then()
                .statusCode(200).body("items.id", equalTo(List.of(portraits.id().toString())));
        given().queryParam("label", "project:" + project).queryParam("name", " mk1 ").queryParam("state", "pending")
                .get("/api/v1/batches").then().statusCode(200).body("items.size()", equalTo(2));
        // what LIKE would read as wildcards is searched for as written
        given().queryParam("label", "project:" + project).queryParam("name", "%_").get("/api/v1/batches").then()
                .statusCode(200).body("items.name", equalTo(List.of("100%_done")));
        given().queryParam("label", "project:" + project).queryParam("name", "_d").get("/api/v1/batches").then()
                .statusCode(200).body("items.size()", equalTo(1));

        given().queryParam("name", "a\u0000b").get("/api/v1/batches").then().statusCode(400)
                .body("errors[0].field", equalTo("name")).body("errors[0].message", containsString("U+0000"));
        given().queryParam("name", "x".repeat(257)).get("/api/v1/batches").then().statusCode(400)
                .body("errors[0].field", equalTo("name")).body("errors[0].message", containsString("256"));
    }

    @Test
    void aCancelledBatchListsAsCancelled() {
        String project = "cancel-" + System.nanoTime();
        NewBatch batch = data.store(Batches.batch(BatchMode.PARALLEL).labels("{\"project\": \"" + project + "\"}")
                .ollamaJobs(2, 1));
        data.inspect().execute("update batch set cancelled_at = now() where id = ?", batch.id());
        given().queryParam("label", "project:" + project).queryParam("state", "cancelled").get("/api/v1/batches")
                .then().statusCode(200).body("items.id", equalTo(List.of(batch.id().toString())));
    }

    @Test
    void unknownIdsAre404() {
        given().get("/api/v1/batches/7f6c8a0e-4c1b-4c55-9d6f-2a8d9e1f0b3c").then().statusCode(404)
                .contentType("application/problem+json");
        given().get("/api/v1/batches/not-a-uuid").then().statusCode(404).contentType("application/problem+json");
    }
}
