package dev.atelier.gateway.rest;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;

import dev.atelier.api.auth.Tokens;
import dev.atelier.store.testing.PostgresTestResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.http.ContentType;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Bearer tokens with roles (API.md, authentication), as the prod profile runs them. */
@QuarkusTest
@QuarkusTestResource(PostgresTestResource.class)
@TestProfile(AuthTests.AuthOn.class)
class AuthTests {

    private static final String PROBLEM = "application/problem+json";
    private static final String CREW = """
            {"type": "ollama.generate", "model": "llama3.2:3b", "prompt": "Name the sword {task}."}""";

    public static class AuthOn implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("atelier.auth.enabled", "true",
                    "atelier.auth.tokens", "ci:submit:" + Tokens.sha256("ci-secret")
                            + ",artist:submit:" + Tokens.sha256("artist-secret")
                            + ",viewer:read:" + Tokens.sha256("viewer-secret")
                            + ",lead:admin:" + Tokens.sha256("lead-secret"));
        }
    }

    @Test
    void aMissingOrUnknownTokenIs401() {
        given().get("/api/v1/crews").then().statusCode(401).contentType(PROBLEM)
                .header("WWW-Authenticate", containsString("Bearer")).body("status", equalTo(401));
        given().auth().oauth2("guess").get("/api/v1/crews").then().statusCode(401).contentType(PROBLEM);
        given().header("Authorization", "Basic Y2k6Y2ktc2VjcmV0").get("/api/v1/crews").then().statusCode(401);
    }

    @Test
    void aReadTokenReadsButDoesNotWrite() {
        given().auth().oauth2("viewer-secret").get("/api/v1/crews/mk1").then().statusCode(200);
        given().auth().oauth2("viewer-secret").contentType(ContentType.JSON).body(CREW).put("/api/v1/crews/sword")
                .then().statusCode(403).contentType(PROBLEM).body("detail", containsString("viewer"));
        given().auth().oauth2("viewer-secret").get("/api/v1/crews/sword").then().statusCode(404);
    }

    @Test
    void onlyAnAdminWritesCrews() {
        given().auth().oauth2("ci-secret").contentType(ContentType.JSON).body(CREW).put("/api/v1/crews/blade")
                .then().statusCode(403).contentType(PROBLEM)
                .body("detail", equalTo("to write crews (every job of the studio expands from them) needs an admin "
                        + "token; the token 'ci' is a submit token"));
        given().auth().oauth2("lead-secret").get("/api/v1/crews/blade").then().statusCode(404);
        given().auth().oauth2("lead-secret").contentType(ContentType.JSON).body(CREW).put("/api/v1/crews/blade")
                .then().statusCode(201);
        given().auth().oauth2("ci-secret").delete("/api/v1/crews/blade").then().statusCode(403)
                .body("detail", containsString("needs an admin token"));
        given().auth().oauth2("viewer-secret").delete("/api/v1/crews/blade").then().statusCode(403)
                .body("detail", containsString("needs a submit token"));
        given().auth().oauth2("ci-secret").get("/api/v1/crews/blade").then().statusCode(200);
        given().auth().oauth2("lead-secret").delete("/api/v1/crews/blade").then().statusCode(204);
    }

    @Test
    void aSubmitTokenCancelsAndRetriesItsOwnBatchesOnlyAndAnAdminAnyones() {
        String ours = submit("ci-secret");
        String theirs = submit("artist-secret");
        String theirJob = given().auth().oauth2("viewer-secret").get("/api/v1/batches/" + theirs).then().statusCode(200)
                .extract().path("jobs[0].id");

        for (String refused : new String[] {"/api/v1/batches/" + theirs + "/cancel", "/api/v1/batches/" + theirs
                + "/retry-failed", "/api/v1/jobs/" + theirJob + "/cancel", "/api/v1/jobs/" + theirJob + "/retry"}) {
            given().auth().oauth2("ci-secret").post(refused).then().statusCode(403).contentType(PROBLEM)
                    .body("detail", containsString("submitted by 'artist', needs that token or an admin token"))
                    .body("detail", containsString("the token 'ci' is a submit token"));
            given().auth().oauth2("viewer-secret").post(refused).then().statusCode(403);
        }
        given().auth().oauth2("viewer-secret").get("/api/v1/batches/" + theirs).then().statusCode(200)
                .body("state", equalTo("pending")); // nothing changed

        given().auth().oauth2("ci-secret").post("/api/v1/batches/" + ours + "/cancel").then().statusCode(202);
        given().auth().oauth2("ci-secret").post("/api/v1/batches/" + ours + "/retry-failed").then().statusCode(202);
        given().auth().oauth2("lead-secret").post("/api/v1/jobs/" + theirJob + "/cancel").then().statusCode(202);
        given().auth().oauth2("lead-secret").post("/api/v1/jobs/" + theirJob + "/retry").then().statusCode(202);
        given().auth().oauth2("lead-secret").post("/api/v1/batches/" + theirs + "/cancel").then().statusCode(202);
        given().auth().oauth2("viewer-secret").get("/api/v1/batches/" + theirs).then().statusCode(200)
                .body("state", equalTo("cancelled"));
        // an unknown batch is a 404 whoever asks, not a 403 that would tell it exists
        given().auth().oauth2("ci-secret").post("/api/v1/batches/00000000-0000-7000-8000-000000000000/cancel")
                .then().statusCode(404);
    }

    @Test
    void aSubmitTokenDeletesItsOwnEndedBatchesOnlyAndAnAdminAnyones() {
        String ours = submit("ci-secret");
        String theirs = submit("artist-secret");
        given().auth().oauth2("lead-secret").post("/api/v1/batches/" + ours + "/cancel").then().statusCode(202);
        given().auth().oauth2("lead-secret").post("/api/v1/batches/" + theirs + "/cancel").then().statusCode(202);

        given().auth().oauth2("ci-secret").delete("/api/v1/batches/" + theirs).then().statusCode(403)
                .contentType(PROBLEM).body("detail", containsString("submitted by 'artist', needs that token or an admin token"));
        given().auth().oauth2("viewer-secret").delete("/api/v1/batches/" + ours).then().statusCode(403)
                .body("detail", containsString("needs a submit token"));
        given().auth().oauth2("viewer-secret").get("/api/v1/batches/" + theirs).then().statusCode(200);

        given().auth().oauth2("ci-secret").delete("/api/v1/batches/" + ours).then().statusCode(204);
        given().auth().oauth2("lead-secret").delete("/api/v1/batches/" + theirs).then().statusCode(204);
        given().auth().oauth2("viewer-secret").get("/api/v1/batches/" + theirs).then().statusCode(404);
    }

    private static String submit(String token) {
        String batch = "{\"name\": \"n\", \"jobs\": [{\"type\": \"ollama.generate\", \"model\": \"m\", \"prompt\": \"p\"}]}";
        return given().auth().oauth2(token).contentType(ContentType.JSON).body(batch).post("/api/v1/batches")
                .then().statusCode(201).extract().path("id");
    }

    @Test
    void theTokensNameIsTheBatchsSubmitter() {
        String batch = "{\"name\": \"n\", \"jobs\": [{\"type\": \"ollama.generate\", \"model\": \"m\", \"prompt\": \"p\"}]}";
        given().auth().oauth2("viewer-secret").contentType(ContentType.JSON).body(batch).post("/api/v1/batches")
                .then().statusCode(403);
        String id = given().auth().oauth2("ci-secret").contentType(ContentType.JSON).body(batch).post("/api/v1/batches")
                .then().statusCode(201).body("submitted_by", equalTo("ci")).extract().path("id");
        given().auth().oauth2("viewer-secret").get("/api/v1/batches/" + id).then().statusCode(200)
                .body("submitted_by", equalTo("ci"));
    }

    @Test
    void healthAndMetricsNeedNoToken() {
        given().get("/q/health/ready").then().statusCode(200);
        given().get("/q/metrics").then().statusCode(200);
    }
}
