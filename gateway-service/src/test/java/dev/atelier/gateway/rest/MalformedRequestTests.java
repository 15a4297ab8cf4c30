package dev.atelier.gateway.rest;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;

import dev.atelier.store.testing.PostgresTestResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.ValidatableResponse;
import io.restassured.specification.RequestSpecification;
import jakarta.inject.Inject;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Malformed submits, one per row: each gets a 4xx problem naming the field where there is one, none a 5xx, and
 * none stores anything. (Bad tokens are in AuthTests, which runs with authentication on.)
 */
@QuarkusTest
@QuarkusTestResource(PostgresTestResource.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MalformedRequestTests {

    private static final String JOB = "{\"type\": \"ollama.generate\", \"model\": \"m\", \"prompt\": \"p\"}";
    /** A crew whose prompt is {task} 40,000 times: small, until a long task multiplies it. */
    private static final String ECHO_CREW = "echo-40000";
    /** A crew whose prompt is {task} 100 times: a 10,000-character task makes a job of a million characters. */
    private static final String PAGE_CREW = "page-100";

    /** One malformed request: its body (bytes, so invalid UTF-8 fits), content type, and what it must get. */
    record Case(String name, byte[] body, String contentType, String idempotencyKey, int status, String field) {
        @Override
        public String toString() {
            return name;
        }
    }

    private static Case json(String name, String body, int status, String field) {
        return new Case(name, body.getBytes(StandardCharsets.UTF_8), "application/json", null, status, field);
    }

    private static String batch(String fields) {
        return "{\"name\": \"n\", \"jobs\": [" + JOB + "]" + (fields.isEmpty() ? "" : ", " + fields) + "}";
    }

    private static String withJob(String job) {
        return "{\"name\": \"n\", \"jobs\": [" + job + "]}";
    }

    private static String generate(String extra) {
        return withJob("{\"type\": \"ollama.generate\", \"model\": \"m\", \"prompt\": \"p\", " + extra + "}");
    }

    static Stream<Case> cases() {
        List<Case> cases = new ArrayList<>();
        // the batch's own fields: wrong types, missing, out of range, unknown
        cases.add(json("name of the wrong type", "{\"name\": 5, \"jobs\": [" + JOB + "]}", 400, "name"));
        cases.add(json("name missing", "{\"jobs\": [" + JOB + "]}", 400, "name"));
        cases.add(json("name too long", "{\"name\": \"" + "n".repeat(201) + "\", \"jobs\": [" + JOB + "]}", 400, "name"));
        cases.add(json("mode of the wrong type", batch("\"mode\": 5"), 400, "mode"));
        cases.add(json("unknown mode", batch("\"mode\": \"fast\""), 400, "mode"));
        cases.add(json("priority as a string", batch("\"priority\": \"1\""), 400, "priority"));
        cases.add(json("priority below range", batch("\"priority\": -1"), 400, "priority"));
        cases.add(json("priority above range", batch("\"priority\": 1001"), 400, "priority"));
        cases.add(json("priority not an integer", batch("\"priority\": 1.5"), 400, "priority"));
        cases.add(json("a huge number", batch("\"priority\": 1" + "0".repeat(400)), 400, "priority"));
        cases.add(json("retry not an object", batch("\"retry\": \"PT5S\""), 400, "retry"));
        cases.add(json("retry.max_attempts above range", batch("\"retry\": {\"max_attempts\": 21}"), 400, "retry.max_attempts"));
        cases.add(json("retry.delay over an hour", batch("\"retry\": {\"delay\": \"PT2H\"}"), 400, "retry.delay"));
        cases.add(json("retry.delay as a number", batch("\"retry\": {\"delay\": 5}"), 400, "retry.delay"));
        cases.add(json("retry.backoff below range", batch("\"retry\": {\"backoff\": 0.5}"), 400, "retry.backoff"));
        cases.add(json("retry.backoff above range", batch("\"retry\": {\"backoff\": 10.5}"), 400, "retry.backoff"));
        cases.add(json("unknown field in retry", batch("\"retry\": {\"jitter\": true}"), 400, "retry.jitter"));
        cases.add(json("labels not an object", batch("\"labels\": []"), 400, "labels"));
        StringBuilder labels = new StringBuilder();
        for (int i = 0; i < 21; i++) {
            labels.append(i == 0 ? "" : ",").append("\"k").append(i).append("\": \"v\"");
        }
        cases.add(json("21 labels", batch("\"labels\": {" + labels + "}"), 400, "labels"));
        cases.add(json("a label value too long", batch("\"labels\": {\"k\": \"" + "v".repeat(257) + "\"}"), 400, "labels.k"));
        cases.add(json("unknown field", batch("\"surprise\": 1"), 400, "surprise"));
        // the jobs array
        cases.add(json("jobs missing", "{\"name\": \"n\"}", 400, "jobs"));
        cases.add(json("jobs not an array", "{\"name\": \"n\", \"jobs\": {}}", 400, "jobs"));
        cases.add(json("0 jobs", "{\"name\": \"n\", \"jobs\": []}", 400, "jobs"));
        cases.add(json("10,001 jobs", "{\"name\": \"n\", \"jobs\": [" + String.join(",", java.util.Collections.nCopies(10_001, JOB)) + "]}", 400, "jobs"));
        cases.add(json("a job that is not an object", withJob("5"), 400, "jobs[0]"));
        // one job's fields
        cases.add(json("unknown job type", withJob("{\"type\": \"ollama.summon\", \"model\": \"m\"}"), 400, "jobs[0].type"));
        cases.add(json("neither type nor crew", withJob("{\"model\": \"m\", \"prompt\": \"p\"}"), 400, "jobs[0].type"));
        cases.add(json("crew without task", withJob("{\"crew\": \"mk1\"}"), 400, "jobs[0].task"));
        cases.add(json("crew and type", withJob("{\"crew\": \"mk1\", \"task\": \"Scorpion\", \"type\": \"ollama.generate\"}"), 400, "jobs[0].type"));
        cases.add(json("crew name too long", withJob("{\"crew\": \"" + "c".repeat(65) + "\", \"task\": \"Scorpion\"}"), 400, "jobs[0].crew"));
        cases.add(json("task too long", withJob("{\"crew\": \"mk1\", \"task\": \"" + "t".repeat(10_001) + "\"}"), 400, "jobs[0].task"));
        cases.add(json("unknown crew", withJob("{\"crew\": \"no-such-crew\", \"task\": \"Scorpion\"}"), 404, "jobs[0].crew"));
        cases.add(json("duplicate keys", "{\"name\": \"n\", \"jobs\": [" + generate("\"key\": \"a\"") .replace("{\"name\": \"n\", \"jobs\": [", "").replace("]}", "")
                + ", {\"key\": \"a\", \"type\": \"ollama.generate\", \"model\": \"m\", \"prompt\": \"p\"}]}", 400, "jobs[1].key"));
        cases.add(json("key with a space", generate("\"key\": \"a b\""), 400, "jobs[0].key"));
        cases.add(json("key too long", generate("\"key\": \"" + "k".repeat(101) + "\""), 400, "jobs[0].key"));
        cases.add(json("job priority out of range", generate("\"priority\": 5000"), 400, "jobs[0].priority"));
        cases.add(json("timeout over 24 hours", generate("\"timeout\": \"PT25H\""), 400, "jobs[0].timeout"));
        cases.add(json("timeout not a duration", generate("\"timeout\": \"ten minutes\""), 400, "jobs[0].timeout"));
        cases.add(json("job max_attempts 0", generate("\"max_attempts\": 0"), 400, "jobs[0].max_attempts"));
        cases.add(json("unknown job field", generate("\"colour\": \"red\""), 400, "jobs[0].colour"));
        // type-specific fields
        cases.add(json("generate without prompt", withJob("{\"type\": \"ollama.generate\", \"model\": \"m\"}"), 400, "jobs[0].prompt"));
        cases.add(json("blank model", withJob("{\"type\": \"ollama.generate\", \"model\": \"\", \"prompt\": \"p\"}"), 400, "jobs[0].model"));
        cases.add(json("a bad Ollama option type", generate("\"options\": {\"temperature\": \"hot\"}"), 400, "jobs[0].options.temperature"));
        cases.add(json("an integer option given a fraction", generate("\"options\": {\"num_ctx\": 1.5}"), 400, "jobs[0].options.num_ctx"));
        cases.add(json("an unknown Ollama option", generate("\"options\": {\"flux\": 1}"), 400, "jobs[0].options.flux"));
        cases.add(json("stop not an array", generate("\"options\": {\"stop\": \"x\"}"), 400, "jobs[0].options.stop"));
        cases.add(json("format neither json nor a schema", generate("\"format\": \"xml\""), 400, "jobs[0].format"));
        cases.add(json("format a number", generate("\"format\": 5"), 400, "jobs[0].format"));
        cases.add(json("think a word", generate("\"think\": \"maybe\""), 400, "jobs[0].think"));
        cases.add(json("images not an array", generate("\"images\": \"abc\""), 400, "jobs[0].images"));
        cases.add(json("chat without messages", withJob("{\"type\": \"ollama.chat\", \"model\": \"m\"}"), 400, "jobs[0].messages"));
        cases.add(json("chat message with a bad role", withJob("{\"type\": \"ollama.chat\", \"model\": \"m\", \"messages\": [{\"role\": \"wizard\", \"content\": \"hi\"}]}"), 400, "jobs[0].messages[0].role"));
        cases.add(json("workflow not an object", withJob("{\"type\": \"comfyui.workflow\", \"workflow\": []}"), 400, "jobs[0].workflow"));
        cases.add(json("workflow node without inputs", withJob("{\"type\": \"comfyui.workflow\", \"workflow\": {\"3\": {\"class_type\": \"KSampler\"}}}"), 400, "jobs[0].workflow.3.inputs"));
        // U+0000, wherever it hides (RequestText refuses it before any validation)
        cases.add(json("NUL in the batch name", "{\"name\": \"n\\u0000\", \"jobs\": [" + JOB + "]}", 400, "name"));
        cases.add(json("NUL in a label value", batch("\"labels\": {\"k\": \"v\\u0000\"}"), 400, "labels.k"));
        cases.add(json("NUL in a prompt", withJob("{\"type\": \"ollama.generate\", \"model\": \"m\", \"prompt\": \"p\\u0000\"}"), 400, "jobs[0].prompt"));
        cases.add(json("NUL in the second message of a chat", withJob("{\"type\": \"ollama.chat\", \"model\": \"m\", \"messages\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"user\", \"content\": \"b\\u0000\"}]}"), 400, "jobs[0].messages[1].content"));
        cases.add(json("NUL in a list in a list", batch("\"labels\": {\"k\": [[\"a\"], [\"b\", \"c\\u0000\"]]}"), 400, "labels.k[1][1]"));
        cases.add(json("NUL in a workflow node id", withJob("{\"type\": \"comfyui.workflow\", \"workflow\": {\"3\\u0000\": {\"class_type\": \"KSampler\", \"inputs\": {}}}}"), 400, "jobs[0].workflow.3?"));
        // absurd Ollama options: finite numbers, sane ranges, a day of keep_alive at most
        cases.add(json("temperature 1e400", generate("\"options\": {\"temperature\": 1e400}"), 400, "jobs[0].options.temperature"));
        cases.add(json("num_ctx of a long's size", generate("\"options\": {\"num_ctx\": 9223372036854775807}"), 400, "jobs[0].options.num_ctx"));
        cases.add(json("num_ctx over a million", generate("\"options\": {\"num_ctx\": 1048577}"), 400, "jobs[0].options.num_ctx"));
        cases.add(json("num_predict below -2", generate("\"options\": {\"num_predict\": -3}"), 400, "jobs[0].options.num_predict"));
        cases.add(json("num_gpu over 1,000", generate("\"options\": {\"num_gpu\": 1001}"), 400, "jobs[0].options.num_gpu"));
        cases.add(json("keep_alive over a day", generate("\"keep_alive\": \"25h\""), 400, "jobs[0].keep_alive"));
        cases.add(json("keep_alive in seconds over a day", generate("\"keep_alive\": 86401"), 400, "jobs[0].keep_alive"));
        cases.add(json("keep_alive without a unit", generate("\"keep_alive\": \"300\""), 400, "jobs[0].keep_alive"));
        // the body itself
        cases.add(json("deep nesting", generate("\"format\": " + "{\"a\": ".repeat(2000) + "1" + "}".repeat(2000)), 413, null));
        cases.add(json("nesting one past the limit of 64", generate("\"format\": " + "[".repeat(62) + "]".repeat(62)), 413, null));
        // memory: bodies within the byte limit built to take the heap (JsonLimits, the spec caps, FieldErrors)
        cases.add(json("600,000 empty jobs (1.2 million JSON tokens)",
                "{\"name\": \"n\", \"jobs\": [" + "{},".repeat(599_999) + "{}]}", 413, null));
        StringBuilder wrongLabels = new StringBuilder();
        for (int i = 0; i < 400_000; i++) {
            wrongLabels.append(i == 0 ? "" : ",").append("\"k").append(i).append("\": ").append(i);
        }
        cases.add(json("400,000 labels of the wrong type", batch("\"labels\": {" + wrongLabels + "}"), 400, "labels"));
        cases.add(json("a job's spec over 1 Mi characters", generate("\"system\": \"" + "s".repeat(1_048_576) + "\""), 400, "jobs[0]"));
        cases.add(json("a crew with {task} 40,000 times given a 10 KB task",
                withJob("{\"crew\": \"" + ECHO_CREW + "\", \"task\": \"" + "t".repeat(10_000) + "\"}"), 400, "jobs[0].task"));
        cases.add(json("34 crew jobs of a megabyte each (over the batch's 32 Mi characters)", "{\"name\": \"n\", \"jobs\": ["
                + String.join(",", java.util.Collections.nCopies(34, "{\"crew\": \"" + PAGE_CREW + "\", \"task\": \""
                + "t".repeat(10_000) + "\"}"))+ "]}", 400, "jobs"));
        cases.add(json("truncated JSON", "{\"name\": \"n\", \"jobs\": [", 400, null));
        cases.add(json("not JSON at all", "hello", 400, null));
        cases.add(json("an array, not an object", "[]", 400, ""));
        cases.add(json("no body", "", 400, ""));
        cases.add(new Case("invalid UTF-8", new byte[] {'{', '"', 'n', 'a', 'm', 'e', '"', ':', '"', (byte) 0xC3, (byte) 0x28, '"', '}'},
                "application/json", null, 400, null));
        cases.add(new Case("the wrong content type", batch("").getBytes(StandardCharsets.UTF_8), "text/plain", null, 415, null));
        cases.add(new Case("an Idempotency-Key too long", batch("").getBytes(StandardCharsets.UTF_8), "application/json",
                "k".repeat(201), 400, "Idempotency-Key"));
        return cases.stream();
    }

    @Inject
    DataSource dataSource;

    private long batchesBefore;

    @BeforeAll
    void countBatches() throws Exception {
        batchesBefore = batches();
    }

    @AfterAll
    void nothingWasStored() throws Exception {
        assertThat(batches()).isEqualTo(batchesBefore);
    }

    private long batches() throws Exception {
        try (Connection c = dataSource.getConnection(); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("select count(*) from batch")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static boolean crewsCreated;

    private static void createTheAmplifyingCrews() {
        if (!crewsCreated) {
            for (var crew : java.util.Map.of(ECHO_CREW, 40_000, PAGE_CREW, 100).entrySet()) {
                given().contentType("application/json")
                        .body("{\"type\": \"ollama.generate\", \"model\": \"m\", \"prompt\": \""
                                + "{task}".repeat(crew.getValue()) + "\"}")
                        .put("/api/v1/crews/" + crew.getKey()).then().statusCode(201);
            }
            crewsCreated = true;
        }
    }

    @org.junit.jupiter.api.Test
    void aBodyWithThousandsOfErrorsGetsTheFirstHundredAndACount() {
        String bad = "{\"type\": \"ollama.generate\", \"model\": 5, \"prompt\": 6}";
        String body = "{\"name\": \"n\", \"jobs\": [" + String.join(",", java.util.Collections.nCopies(5_000, bad)) + "]}";
        var answer = given().contentType("application/json").body(body).post("/api/v1/batches").then()
                .statusCode(400).contentType("application/problem+json").extract();
        assertThat(answer.jsonPath().getList("errors")).hasSize(100);
        assertThat(answer.jsonPath().getString("detail")).endsWith("(the first 100 of 10000 errors are listed; 9900 more)");
        assertThat(answer.body().asByteArray().length).as("a small answer").isLessThan(20_000);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void isRefusedWithAProblemNamingTheField(Case c) {
        createTheAmplifyingCrews();
        RequestSpecification request = given().contentType(c.contentType()).body(c.body());
        if (c.idempotencyKey() != null) {
            request.header("Idempotency-Key", c.idempotencyKey());
        }
        ValidatableResponse response = request.post("/api/v1/batches").then()
                .statusCode(c.status())
                .contentType("application/problem+json")
                .body("status", equalTo(c.status()));
        if (c.field() != null) {
            response.body("errors.field", hasItem(c.field()));
        }
    }
}
