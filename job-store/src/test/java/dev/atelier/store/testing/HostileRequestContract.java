package dev.atelier.store.testing;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;

import io.restassured.RestAssured;
import io.restassured.response.Response;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * What every HTTP service promises about hostile requests, checked once for every /api/** operation its OpenAPI
 * document lists, so that no new endpoint, field or parameter can miss it: U+0000 in the path, in a query parameter
 * or in a JSON body is a 400 naming where, and a query parameter the endpoint does not take is a 400 naming it. Each
 * service's {@code HostileRequestTests} runs these as a {@code @QuarkusTest} with authentication off.
 */
public abstract class HostileRequestContract {

    private static final String NUL = "%00";

    /** One operation of the OpenAPI document: its method, path template and query parameters. */
    record Operation(String method, String path, List<String> query, boolean hasBody) {
        /** The path with every template filled: {@code {id}} becomes a valid-looking id, or {@code fill}. */
        String path(String fill) {
            return path.replaceAll("\\{[^}]+}", fill);
        }

        @Override
        public String toString() {
            return method.toUpperCase() + " " + path;
        }
    }

    @SuppressWarnings("unchecked")
    private List<Operation> operations() {
        Map<String, Map<String, Map<String, Object>>> paths = given().queryParam("format", "json").get("/q/openapi")
                .then().statusCode(200).extract().path("paths");
        List<Operation> operations = new ArrayList<>();
        paths.forEach((path, methods) -> {
            if (!path.startsWith("/api/")) {
                return;
            }
            methods.forEach((method, operation) -> {
                List<String> query = new ArrayList<>();
                for (Map<String, Object> parameter : (List<Map<String, Object>>) operation.getOrDefault("parameters", List.of())) {
                    if ("query".equals(parameter.get("in"))) {
                        query.add((String) parameter.get("name"));
                    }
                }
                operations.add(new Operation(method, path, query, operation.containsKey("requestBody")));
            });
        });
        assertThat(operations).as("the OpenAPI document lists the /api/** operations").isNotEmpty();
        return operations;
    }

    private static Response send(Operation op, String path, String query, String body) {
        var request = given().urlEncodingEnabled(false).contentType("application/json");
        if (body != null) {
            request.body(body);
        }
        return request.request(op.method().toUpperCase(), path + (query == null ? "" : "?" + query));
    }

    private static void assertRefused(Response response, String what, String field) {
        assertThat(response.statusCode()).as(what + ": " + response.asString()).isEqualTo(400);
        assertThat(response.contentType()).as(what).startsWith("application/problem+json");
        assertThat(response.jsonPath().getList("errors.field", String.class)).as(what).contains(field);
    }

    /**
     * A client that offers HTTP/2 (Java's own HttpClient does by default, through an h2c upgrade) is answered as one
     * speaking HTTP/1.1. Quarkus answered a POST without a body over HTTP/2 with a 500, "Request has already been
     * read" (quarkusio/quarkus#34393), so the services speak HTTP/1.1 only (quarkus.http.http2=false).
     */
    @Test
    void aClientOfferingHttp2IsAnsweredAsOneSpeakingHttp11() throws Exception {
        HttpClient http2 = HttpClient.newBuilder().version(HttpClient.Version.HTTP_2).build();
        String base = RestAssured.baseURI + ":" + RestAssured.port;
        for (Operation op : operations()) {
            if (op.method().equals("get") || op.hasBody()) {
                continue;
            }
            String path = op.path("0194c7e2-1c3a-7000-8000-000000000001");
            int overHttp11 = send(op, path, null, null).statusCode();
            for (int i = 0; i < 2; i++) { // the first request upgrades, the second would use the new protocol
                HttpResponse<String> answer = http2.send(HttpRequest.newBuilder(URI.create(base + path))
                        .method(op.method().toUpperCase(), HttpRequest.BodyPublishers.noBody()).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertThat(answer.statusCode()).as(op + " over HTTP/2: " + answer.body()).isEqualTo(overHttp11);
                assertThat(answer.version()).as(op.toString()).isEqualTo(HttpClient.Version.HTTP_1_1);
            }
        }
    }

    @Test
    void nulInAPathIsRefusedNamingThePath() {
        for (Operation op : operations()) {
            if (op.path().contains("{")) {
                assertRefused(send(op, op.path("a" + NUL + "b"), null, op.hasBody() ? "{}" : null), op + " path", "path");
            }
        }
    }

    @Test
    void nulInAQueryParameterIsRefusedNamingIt() {
        for (Operation op : operations()) {
            for (String name : op.query()) {
                assertRefused(send(op, op.path("0194c7e2-1c3a-7000-8000-000000000001"), name + "=x" + NUL, null),
                        op + " ?" + name, name);
            }
        }
    }

    @Test
    void anUnknownQueryParameterIsRefusedNamingIt() {
        for (Operation op : operations()) {
            assertRefused(send(op, op.path("0194c7e2-1c3a-7000-8000-000000000001"), "satte=failed",
                    op.hasBody() ? "{}" : null), op + " ?satte", "satte");
        }
    }

    @Test
    void nulInAJsonBodyIsRefusedNamingTheField() {
        for (Operation op : operations()) {
            if (op.hasBody()) {
                assertRefused(send(op, op.path("crew-a"), null, "{\"name\": \"x\", \"labels\": {\"k\": \"a\\u0000b\"}}"),
                        op + " body", "labels.k");
                assertRefused(send(op, op.path("crew-a"), null, "{\"jobs\": [{\"w\\u0000\": 1}]}"),
                        op + " body field name", "jobs[0].w?");
            }
        }
    }
}
