package dev.atelier.gateway.rest;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItems;
import static org.hamcrest.Matchers.hasSize;

import dev.atelier.store.testing.PostgresTestResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import jakarta.inject.Inject;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/** POST /api/v1/batches (API.md): stored whole or not at all, every bad field named, idempotent on request. */
@QuarkusTest
@QuarkusTestResource(PostgresTestResource.class)
class SubmitBatchTests {

    private static final String PROBLEM = "application/problem+json";
    static final String ROSTER = """
            {"name": "mk1-roster", "mode": "priority", "priority": 1,
             "retry": {"max_attempts": 3, "delay": "PT5S", "backoff": 2.0},
             "labels": {"project": "mk1"},
             "jobs": [
               {"key": "scorpion", "crew": "mk1", "task": "Scorpion", "priority": 1},
               {"key": "raiden-bio", "type": "ollama.generate", "priority": 2, "model": "deepseek-r1:32b",
                "prompt": "Write Raiden's bio", "system": "You are a lore writer.", "options": {"temperature": 0.7},
                "format": "json", "think": true, "keep_alive": "10m"},
               {"key": "dialogue", "type": "ollama.chat", "priority": 2, "model": "deepseek-r1:32b",
                "messages": [{"role": "user", "content": "Write a taunt for Kitana"}]},
               {"key": "portrait", "type": "comfyui.workflow", "priority": 2,
                "workflow": {"3": {"class_type": "KSampler", "inputs": {}}}, "timeout": "PT20M", "max_attempts": 2}
             ]}""";

    @Inject
    DataSource dataSource;

    private long count(String sql, Object... args) throws Exception {
        try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
            for (int i = 0; i < args.length; i++) {
                ps.setObject(i + 1, args[i]);
            }
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    private String text(String sql, Object... args) throws Exception {
        try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
            for (int i = 0; i < args.length; i++) {
                ps.setObject(i + 1, args[i]);
            }
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getString(1);
            }
        }
    }

    @Test
    void theApiExampleIsStoredWithTheCrewJobExpanded() throws Exception {
        String id = given().contentType(ContentType.JSON).body(ROSTER).post("/api/v1/batches")
                .then().statusCode(201)
                .header("Location", containsString("/api/v1/batches/"))
                .body("name", equalTo("mk1-roster"))
                .body("state", equalTo("pending"))
                .body("labels.project", equalTo("mk1"))
                .body("status_counts.pending", equalTo(4))
                .body("jobs", hasSize(4))
                .body("jobs.key", hasItems("scorpion", "raiden-bio", "dialogue", "portrait"))
                .extract().path("id");

        UUID batch = UUID.fromString(id);
        assertThat(text("select spec->>'prompt' from job where batch_id = ? and key = 'scorpion'", batch))
                .contains("Scorpion").doesNotContain("{task}");
        assertThat(text("select type || ' ' || model || ' ' || crew || ' ' || task from job where batch_id = ? and key = 'scorpion'", batch))
                .isEqualTo("ollama.generate deepseek-r1:32b mk1 Scorpion");
        assertThat(count("select timeout_ms from job where batch_id = ? and key = 'portrait'", batch)).isEqualTo(1_200_000);
        assertThat(count("select max_attempts from job where batch_id = ? and key = 'portrait'", batch)).isEqualTo(2);
        assertThat(count("select timeout_ms from job where batch_id = ? and key = 'dialogue'", batch)).isEqualTo(600_000);
        given().get("/api/v1/batches/" + id).then().statusCode(200).body("groups", hasSize(2));
    }

    @Test
    void everyBadFieldIsNamedInOneProblemAndNothingIsStored() throws Exception {
        long batches = count("select count(*) from batch");
        String bad = """
                {"name": "", "mode": "random", "priority": 1001, "colour": "red",
                 "retry": {"max_attempts": 0, "delay": "5 seconds", "backoff": 11},
                 "labels": {"bad key": "x", "team": 7},
                 "jobs": [
                   {"key": "a", "type": "ollama.generate", "prompt": "hi", "options": {"temperature": "hot", "temprature": 1}},
                   {"key": "a", "type": "ollama.generate", "model": "m", "prompt": "hi", "format": "xml"},
                   {"type": "ollama.summon", "model": "m"},
                   {"type": "comfyui.workflow", "workflow": {"3": {"inputs": {}}}, "timeout": "PT0S"},
                   {"type": "ollama.chat", "model": "m", "messages": [{"role": "wizard", "content": 1}]}
                 ]}""";

        given().contentType(ContentType.JSON).body(bad).post("/api/v1/batches")
                .then().statusCode(400).contentType(PROBLEM)
                .body("errors.field", hasItems("name", "mode", "priority", "colour", "retry.max_attempts",
                        "retry.delay", "retry.backoff", "labels.bad key", "labels.team", "jobs[0].model",
                        "jobs[0].options.temperature", "jobs[0].options.temprature", "jobs[1].key", "jobs[1].format",
                        "jobs[2].type", "jobs[3].workflow.3.class_type", "jobs[3].timeout",
                        "jobs[4].messages[0].role", "jobs[4].messages[0].content"));

        assertThat(count("select count(*) from batch")).isEqualTo(batches);
    }

    @Test
    void anUnknownCrewIsA404AndNothingIsStored() throws Exception {
        long batches = count("select count(*) from batch");
        given().contentType(ContentType.JSON)
                .body("{\"name\": \"x\", \"jobs\": [{\"crew\": \"no-such-crew\", \"task\": \"Scorpion\"}]}")
                .post("/api/v1/batches")
                .then().statusCode(404).contentType(PROBLEM).body("errors[0].field", equalTo("jobs[0].crew"));
        assertThat(count("select count(*) from batch")).isEqualTo(batches);
    }

    @Test
    void aBatchHasOneToTenThousandJobs() throws Exception {
        long batches = count("select count(*) from batch");
        given().contentType(ContentType.JSON).body("{\"name\": \"empty\", \"jobs\": []}").post("/api/v1/batches")
                .then().statusCode(400).body("errors[0].field", equalTo("jobs"));
        StringBuilder many = new StringBuilder("{\"name\": \"too many\", \"jobs\": [");
        for (int i = 0; i < 10_001; i++) {
            many.append(i == 0 ? "" : ",").append("{\"type\": \"ollama.generate\", \"model\": \"m\", \"prompt\": \"p\"}");
        }
        many.append("]}");
        given().contentType(ContentType.JSON).body(many.toString()).post("/api/v1/batches")
                .then().statusCode(400).body("errors[0].field", equalTo("jobs"))
                .body("errors[0].message", containsString("10001"));
        assertThat(count("select count(*) from batch")).isEqualTo(batches);
    }

    @Test
    void theSameIdempotencyKeyAnswersTheOriginalOrA409() throws Exception {
        String key = "nightly-" + UUID.randomUUID();
        String first = given().contentType(ContentType.JSON).header("Idempotency-Key", key).body(ROSTER)
                .post("/api/v1/batches").then().statusCode(201).extract().path("id");

        // equal as parsed JSON: other spacing and key order
        String reordered = ROSTER.replace("\"name\": \"mk1-roster\", \"mode\": \"priority\"",
                "\"mode\":\"priority\",   \"name\":\"mk1-roster\"");
        given().contentType(ContentType.JSON).header("Idempotency-Key", key).body(reordered)
                .post("/api/v1/batches").then().statusCode(200).body("id", equalTo(first));

        given().contentType(ContentType.JSON).header("Idempotency-Key", key).body(ROSTER.replace("mk1-roster", "other"))
                .post("/api/v1/batches").then().statusCode(409).contentType(PROBLEM).body("detail", containsString(first));
        assertThat(count("select count(*) from idempotency_key k join batch b on b.id = k.batch_id where k.key = ?", key)).isEqualTo(1);
    }

    @Test
    void aDeletedBatchsIdempotencyKeyIsStillUsed() throws Exception {
        String key = "deleted-" + UUID.randomUUID();
        String first = given().contentType(ContentType.JSON).header("Idempotency-Key", key).body(ROSTER)
                .post("/api/v1/batches").then().statusCode(201).extract().path("id");
        given().post("/api/v1/batches/" + first + "/cancel").then().statusCode(202);
        given().delete("/api/v1/batches/" + first).then().statusCode(204);

        given().contentType(ContentType.JSON).header("Idempotency-Key", key).body(ROSTER)
                .post("/api/v1/batches").then().statusCode(409).contentType(PROBLEM)
                .body("detail", containsString(first)).body("detail", containsString("deleted"));
        assertThat(count("select count(*) from batch b join idempotency_key k on k.batch_id = b.id where k.key = ?", key))
                .as("no second batch").isZero();
    }

    @Test
    void tenConcurrentIdenticalRequestsCreateOneBatch() throws Exception {
        String key = "concurrent-" + UUID.randomUUID();
        ExecutorService pool = Executors.newFixedThreadPool(10);
        try {
            List<Future<io.restassured.response.Response>> answers = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                answers.add(pool.submit(() -> given().contentType(ContentType.JSON).header("Idempotency-Key", key)
                        .body(ROSTER).post("/api/v1/batches")));
            }
            Set<String> ids = new HashSet<>();
            int created = 0;
            for (Future<io.restassured.response.Response> answer : answers) {
                io.restassured.response.Response response = answer.get(60, TimeUnit.SECONDS);
                assertThat(response.statusCode()).isIn(200, 201);
                created += response.statusCode() == 201 ? 1 : 0;
                ids.add(response.path("id"));
            }
            assertThat(ids).hasSize(1);
            assertThat(created).isEqualTo(1);
        } finally {
            pool.shutdownNow();
        }
        assertThat(count("select count(*) from idempotency_key k join batch b on b.id = k.batch_id where k.key = ?", key)).isEqualTo(1);
    }
}
