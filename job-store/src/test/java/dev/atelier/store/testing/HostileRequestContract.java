package dev.atelier.store.testing;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;

import io.restassured.response.Response;
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
