package dev.atelier.gateway.it;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;

import dev.atelier.store.testing.PostgresTestResource;
import dev.atelier.store.testing.TestTokens;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusIntegrationTest;
import io.restassured.http.ContentType;
import org.junit.jupiter.api.Test;

/**
 * The packaged gateway, black-box, as deployed (prod profile, tokens required). With -Pnative the same suite runs
 * against the native binary.
 */
@QuarkusIntegrationTest
@WithTestResource(PostgresTestResource.class)
@WithTestResource(TestTokens.class)
class GatewayIT {

    @Test
    void itIsHealthyAndServesMetricsWithoutAToken() {
        given().get("/q/health/started").then().statusCode(200);
        given().get("/q/health/live").then().statusCode(200);
        given().get("/q/health/ready").then().statusCode(200).body("status", equalTo("UP"));
        given().get("/q/metrics").then().statusCode(200);
    }

    @Test
    void aSubmitTokenStoresABatchAndEveryOtherCallerIsTurnedAway() {
        String body = "{\"name\": \"it\", \"jobs\": [{\"crew\": \"mk1\", \"task\": \"Scorpion\"}, "
                + "{\"type\": \"ollama.generate\", \"model\": \"llama3.2\", \"prompt\": \"bark line\"}]}";
        given().contentType(ContentType.JSON).body(body).post("/api/v1/batches").then().statusCode(401)
                .contentType("application/problem+json");
        given().auth().oauth2(TestTokens.READ).contentType(ContentType.JSON).body(body).post("/api/v1/batches")
                .then().statusCode(403);
        String id = given().auth().oauth2(TestTokens.SUBMIT).contentType(ContentType.JSON).body(body)
                .post("/api/v1/batches").then().statusCode(201).body("submitted_by", equalTo("it"))
                .body("status_counts.pending", equalTo(2)).extract().path("id");
        given().auth().oauth2(TestTokens.READ).get("/api/v1/batches/" + id).then().statusCode(200)
                .body("jobs.key", hasItem("job-1"));
        given().auth().oauth2(TestTokens.SUBMIT).contentType(ContentType.JSON).body("{\"name\": \"\", \"jobs\": []}")
                .post("/api/v1/batches").then().statusCode(400).body("errors.field", hasItem("name"));
    }
}
