package dev.atelier.gateway.rest;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.endsWith;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.hasItems;
import static org.hamcrest.Matchers.notNullValue;
import static org.hamcrest.Matchers.nullValue;

import dev.atelier.store.testing.PostgresTestResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import jakarta.inject.Inject;
import java.nio.charset.StandardCharsets;
import java.util.UUID;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/** PUT/GET/DELETE /api/v1/crews/{name} and GET /api/v1/crews (API.md, crews). */
@QuarkusTest
@QuarkusTestResource(PostgresTestResource.class)
class CrewResourceTests {

    @Inject
    DataSource dataSource;


    private static final String PROBLEM = "application/problem+json";
    private static final String TEMPLATE = """
            {"type": "ollama.generate", "model": "llama3.2:3b", "system": "You write item descriptions.",
             "prompt": "Describe the item {task} in two sentences.", "options": {"temperature": 0.7, "stop": ["\\n\\n"]}}""";

    private static String newName() {
        return "crew-" + UUID.randomUUID().toString().substring(0, 8);
    }

    @Test
    void theStarterCrewsExist() {
        given().get("/api/v1/crews/mk1").then().statusCode(200)
                .body("name", equalTo("mk1"))
                .body("template.model", equalTo("deepseek-r1:32b"))
                .body("template.prompt", containsString("{task}"))
                .body("created_at", notNullValue());
        given().get("/api/v1/crews/code").then().statusCode(200)
                .body("template.model", equalTo("deepseek-coder:6.7b"));
    }

    @Test
    void createReadReplaceDelete() {
        String name = newName();
        given().contentType(ContentType.JSON).body(TEMPLATE).put("/api/v1/crews/" + name)
                .then().statusCode(201)
                .header("Location", endsWith("/api/v1/crews/" + name))
                .body("name", equalTo(name))
                .body("template.options.temperature", equalTo(0.7f));

        given().get("/api/v1/crews/" + name).then().statusCode(200).body("template.model", equalTo("llama3.2:3b"));

        given().contentType(ContentType.JSON).body(TEMPLATE.replace("llama3.2:3b", "qwen3:8b"))
                .put("/api/v1/crews/" + name).then().statusCode(200).body("template.model", equalTo("qwen3:8b"));

        given().delete("/api/v1/crews/" + name).then().statusCode(204);
        given().get("/api/v1/crews/" + name).then().statusCode(404).contentType(PROBLEM)
                .body("status", equalTo(404)).body("detail", containsString(name));
        given().delete("/api/v1/crews/" + name).then().statusCode(404).contentType(PROBLEM);
    }

    @Test
    void aBadCrewIsRefusedWithEveryBadFieldAndNothingIsStored() {
        String bad = """
                {"type": "ollama.generate", "prompt": 42, "options": {"temprature": 0.7, "num_ctx": "big",
                 "temperature": 1e400, "num_gpu": 5000}, "format": "yaml", "keep_alive": "48h"}""";

        given().contentType(ContentType.JSON).body(bad).put("/api/v1/crews/Bad_Name")
                .then().statusCode(400).contentType(PROBLEM)
                .body("status", equalTo(400))
                .body("errors.field", hasItems("name", "model", "prompt", "options.temprature", "options.num_ctx",
                        "options.temperature", "options.num_gpu", "keep_alive", "format", "template"));

        given().get("/api/v1/crews/Bad_Name").then().statusCode(404);
    }

    @Test
    void aComfyUiCrewNeedsNodesWithClassTypeAndInputs() {
        String name = newName();
        given().contentType(ContentType.JSON)
                .body("{\"type\": \"comfyui.workflow\", \"workflow\": {\"6\": {\"inputs\": {\"text\": \"{task}\"}}}}")
                .put("/api/v1/crews/" + name)
                .then().statusCode(400).body("errors.field", hasItem("workflow.6.class_type"));
        given().contentType(ContentType.JSON)
                .body("{\"type\": \"comfyui.workflow\", \"workflow\": {\"6\": {\"class_type\": \"CLIPTextEncode\", "
                        + "\"inputs\": {\"text\": \"concept art of {task}\"}}}}")
                .put("/api/v1/crews/" + name)
                .then().statusCode(201);
    }

    @Test
    void aComfyUiCrewExpandsTheTaskIntoEveryStringInputAndArtifactInputsAreChecked() {
        String name = newName();
        given().contentType(ContentType.JSON)
                .body("{\"type\": \"comfyui.workflow\", \"workflow\": {"
                        + "\"6\": {\"class_type\": \"CLIPTextEncode\", \"inputs\": {\"text\": \"concept art of {task}, ink\"}},"
                        + "\"9\": {\"class_type\": \"SaveImage\", \"inputs\": {\"filename_prefix\": \"{task}\", \"images\": [\"8\", 0]}}}}")
                .put("/api/v1/crews/" + name).then().statusCode(201);
        String batch = given().contentType(ContentType.JSON)
                .body("{\"name\": \"portraits\", \"jobs\": [{\"crew\": \"" + name + "\", \"task\": \"Kitana\"}]}")
                .post("/api/v1/batches").then().statusCode(201).extract().path("id");
        String spec = new dev.atelier.store.testing.Inspect(dataSource)
                .strings("select spec::text from job where batch_id = ?", java.util.UUID.fromString(batch)).get(0);
        assertThat(spec).contains("\"text\": \"concept art of Kitana, ink\"").contains("\"filename_prefix\": \"Kitana\"")
                .doesNotContain("{task}");

        given().contentType(ContentType.JSON)
                .body("{\"name\": \"upscale\", \"jobs\": [{\"type\": \"comfyui.workflow\", \"workflow\": {"
                        + "\"10\": {\"class_type\": \"LoadImage\", \"inputs\": {\"image\": {\"artifact\": \"not-an-id\"}}}}}]}")
                .post("/api/v1/batches").then().statusCode(400)
                .body("errors.field", hasItem("jobs[0].workflow.10.inputs.image.artifact"));
    }

    @Test
    void listsArePagedByName() {
        String first = given().queryParam("limit", 1).get("/api/v1/crews")
                .then().statusCode(200).body("items.size()", equalTo(1)).body("next_after", notNullValue())
                .extract().path("next_after");
        given().queryParam("limit", 1).queryParam("after", first).get("/api/v1/crews")
                .then().statusCode(200).body("items[0].name", org.hamcrest.Matchers.greaterThan(first));
        given().queryParam("limit", 500).queryParam("after", "zzzz").get("/api/v1/crews")
                .then().statusCode(200).body("items.size()", equalTo(0)).body("next_after", nullValue());
        for (String limit : new String[] {"0", "501", "ten", "-1"}) {
            given().queryParam("limit", limit).get("/api/v1/crews")
                    .then().statusCode(400).contentType(PROBLEM).body("errors[0].field", equalTo("limit"));
        }
    }

    @Test
    void errorsBelowTheApplicationAreProblemsToo() {
        given().get("/api/v1/nothing-here").then().statusCode(404).contentType(PROBLEM).body("status", equalTo(404));
        given().get("/not-an-api-path").then().statusCode(404).contentType(PROBLEM).body("status", equalTo(404));
        given().post("/api/v1/crews/mk1").then().statusCode(405).contentType(PROBLEM).body("status", equalTo(405));
        given().contentType(ContentType.TEXT).body(TEMPLATE).put("/api/v1/crews/" + newName())
                .then().statusCode(415).contentType(PROBLEM).body("status", equalTo(415));
    }

    @Test
    void malformedJsonIsA400() {
        String name = newName();
        given().contentType(ContentType.JSON).body("{\"type\": \"ollama.generate\", \"prompt\": ")
                .put("/api/v1/crews/" + name)
                .then().statusCode(400).contentType(PROBLEM).body("detail", containsString("JSON"));
        byte[] invalidUtf8 = {'{', '"', 't', 'y', 'p', 'e', '"', ':', '"', (byte) 0xC3, (byte) 0x28, '"', '}'};
        given().contentType("application/json; charset=utf-8").body(invalidUtf8).put("/api/v1/crews/" + name)
                .then().statusCode(400).contentType(PROBLEM);
        given().get("/api/v1/crews/" + name).then().statusCode(404);
    }

    @Test
    void aBodyOverTheLimitIsA413Problem() throws Exception {
        // announce 17 MiB: the server answers before the body is sent, so send none and read the answer
        int port = io.restassured.RestAssured.port;
        try (java.net.Socket socket = new java.net.Socket("localhost", port)) {
            socket.setSoTimeout(10_000);
            String request = "PUT /api/v1/crews/" + newName() + " HTTP/1.1\r\nHost: localhost\r\n"
                    + "Content-Type: application/json\r\nContent-Length: " + (17 * 1024 * 1024) + "\r\n\r\n";
            socket.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
            socket.getOutputStream().flush();
            // the server answers without waiting for the body; read until the problem's last brace
            StringBuilder answer = new StringBuilder();
            java.io.InputStream in = socket.getInputStream();
            int b;
            while ((b = in.read()) != -1) {
                answer.append((char) b);
                if (b == '}' && answer.indexOf("\r\n\r\n") > 0) {
                    break;
                }
            }
            org.assertj.core.api.Assertions.assertThat(answer.toString())
                    .startsWith("HTTP/1.1 413")
                    .containsIgnoringCase("content-type: application/problem+json")
                    .contains("\"status\":413");
        }
    }

    @Test
    void aChunkedBodyOverTheLimitGetsTheSame413Problem() throws Exception {
        // no Content-Length: the limit is found only while the body arrives, 1 MiB chunk after chunk
        int port = io.restassured.RestAssured.port;
        try (java.net.Socket socket = new java.net.Socket("localhost", port)) {
            socket.setSoTimeout(10_000);
            java.util.concurrent.CompletableFuture<String> answer = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                StringBuilder read = new StringBuilder();
                try {
                    java.io.InputStream in = socket.getInputStream();
                    int b;
                    while ((b = in.read()) != -1) {
                        read.append((char) b);
                        if (b == '}' && read.indexOf("\r\n\r\n") > 0) {
                            break;
                        }
                    }
                } catch (java.io.IOException closed) {
                    // what was read before the server closed is the answer
                }
                return read.toString();
            });
            java.io.OutputStream out = socket.getOutputStream();
            out.write(("PUT /api/v1/crews/" + newName() + " HTTP/1.1\r\nHost: localhost\r\n"
                    + "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            byte[] chunk = new byte[1024 * 1024];
            java.util.Arrays.fill(chunk, (byte) ' ');
            try {
                for (int i = 0; i < 17 && !answer.isDone(); i++) {
                    out.write((Integer.toHexString(chunk.length) + "\r\n").getBytes(StandardCharsets.US_ASCII));
                    out.write(chunk);
                    out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                }
                out.write("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                out.flush();
            } catch (java.io.IOException closedWhileSending) {
                // the server refused the rest of the body: expected
            }
            assertThat(answer.get(15, java.util.concurrent.TimeUnit.SECONDS))
                    .startsWith("HTTP/1.1 413")
                    .containsIgnoringCase("content-type: application/problem+json")
                    .contains("\"status\":413");
        }
    }

    @Test
    void aChunkedBodyWithinTheLimitIsReadAsAnyOther() throws Exception {
        String name = newName();
        java.net.http.HttpRequest put = java.net.http.HttpRequest.newBuilder(
                        java.net.URI.create("http://localhost:" + io.restassured.RestAssured.port + "/api/v1/crews/" + name))
                .version(java.net.http.HttpClient.Version.HTTP_1_1)
                .header("Content-Type", "application/json")
                // a stream of unknown length goes out chunked
                .PUT(java.net.http.HttpRequest.BodyPublishers.ofInputStream(
                        () -> new java.io.ByteArrayInputStream(TEMPLATE.getBytes(StandardCharsets.UTF_8))))
                .build();
        java.net.http.HttpResponse<String> answer = java.net.http.HttpClient.newHttpClient()
                .send(put, java.net.http.HttpResponse.BodyHandlers.ofString());
        assertThat(answer.statusCode()).as(answer.body()).isEqualTo(201);
        given().get("/api/v1/crews/" + name).then().statusCode(200).body("template.model", equalTo("llama3.2:3b"));
    }

    @Test
    void aTemplateOverTheCapIsRefusedNamingIt() {
        String name = newName();
        String big = "{\"type\": \"ollama.generate\", \"model\": \"m\", \"prompt\": \"{task} "
                + "x".repeat(dev.atelier.gateway.service.CrewService.MAX_TEMPLATE_CHARS) + "\"}";
        given().contentType(ContentType.JSON).body(big).put("/api/v1/crews/" + name)
                .then().statusCode(400).contentType(PROBLEM).body("errors.field", hasItem("template"));
        given().get("/api/v1/crews/" + name).then().statusCode(404);
    }
}
