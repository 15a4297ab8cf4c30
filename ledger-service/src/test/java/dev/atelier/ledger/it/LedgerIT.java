package dev.atelier.ledger.it;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;

import dev.atelier.store.testing.PostgresTestResource;
import dev.atelier.store.testing.TestTokens;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusIntegrationTest;
import org.junit.jupiter.api.Test;

/**
 * The packaged ledger, black-box, as deployed (prod profile, tokens required). With -Pnative the same suite runs
 * against the native binary.
 */
@QuarkusIntegrationTest
@WithTestResource(PostgresTestResource.class)
@WithTestResource(TestTokens.class)
class LedgerIT {

    @Test
    void itIsHealthyAndServesTheDashboardAndMetricsWithoutAToken() {
        given().get("/q/health/ready").then().statusCode(200).body("status", equalTo("UP"));
        given().get("/q/metrics").then().statusCode(200).body(containsString("atelier_executors_live"));
        given().get("/").then().statusCode(200).body(containsString("Atelier"));
        given().get("/dashboard.js").then().statusCode(200);
    }

    @Test
    void readTokensReadAndNoTokenReadsNothing() {
        given().get("/api/v1/summary").then().statusCode(401).contentType("application/problem+json");
        given().auth().oauth2(TestTokens.READ).get("/api/v1/summary").then().statusCode(200)
                .body("total_tasks", equalTo(0)).body("services.ollama", equalTo("offline"));
        given().auth().oauth2(TestTokens.READ).get("/api/v1/exports/ledger.jsonl").then().statusCode(200)
                .contentType("application/x-ndjson");
        given().auth().oauth2(TestTokens.READ).queryParam("state", "nope").get("/api/v1/jobs").then().statusCode(400);
    }
}
