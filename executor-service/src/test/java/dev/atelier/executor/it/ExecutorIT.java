package dev.atelier.executor.it;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;

import dev.atelier.store.testing.PostgresTestResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusIntegrationTest;
import org.junit.jupiter.api.Test;

/**
 * The packaged executor, black-box, as deployed (prod profile), with no backend reachable: it is live and ready
 * (an outage must not restart executors) and reports its backends as offline. With -Pnative the same suite runs
 * against the native binary.
 */
@QuarkusIntegrationTest
@WithTestResource(PostgresTestResource.class)
class ExecutorIT {

    @Test
    void itIsHealthyWithoutItsBackendsAndSaysSoInItsMetrics() {
        given().get("/q/health/started").then().statusCode(200);
        given().get("/q/health/live").then().statusCode(200).body("status", equalTo("UP"));
        given().get("/q/health/ready").then().statusCode(200).body("status", equalTo("UP"));
        given().get("/q/metrics").then().statusCode(200).body(containsString("atelier_backend_status"));
        // woken by NOTIFY, not only by its poll: its LISTEN connection is open
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10)).untilAsserted(() ->
                given().get("/q/health/ready").then().statusCode(200)
                        .body("checks.find { it.name == 'claim loop' }.data.listening", equalTo(true)));
    }
}
