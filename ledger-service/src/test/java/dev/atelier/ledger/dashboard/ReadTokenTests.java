package dev.atelier.ledger.dashboard;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;

import dev.atelier.store.testing.PostgresTestResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.chrome.ChromeDriver;

/** With auth on, as packaged: read tokens read, and the page asks for one once and keeps it in the browser. */
@QuarkusTest
@QuarkusTestResource(PostgresTestResource.class)
@TestProfile(ReadTokenTests.AuthOn.class)
class ReadTokenTests {

    static final String READ_TOKEN = "dashboard-read-secret";
    static final String SUBMIT_TOKEN = "ci-submit-secret";

    public static class AuthOn implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("atelier.auth.enabled", "true",
                    "atelier.auth.tokens", "wall:read:" + sha256(READ_TOKEN) + ",ci:submit:" + sha256(SUBMIT_TOKEN));
        }
    }

    static String sha256(String text) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    @TestHTTPResource("/")
    URL dashboard;

    @Test
    void readAndSubmitTokensReadEverythingAndNoTokenReadsNothing() {
        for (String path : new String[] {"/api/v1/summary", "/api/v1/batches", "/api/v1/jobs", "/api/v1/artifacts",
                "/api/v1/exports/ledger.jsonl", "/api/v1/exports/events.jsonl"}) {
            given().get(path).then().statusCode(401).contentType("application/problem+json");
            given().auth().oauth2("not-a-token").get(path).then().statusCode(401);
            given().auth().oauth2(READ_TOKEN).get(path).then().statusCode(200);
            given().auth().oauth2(SUBMIT_TOKEN).get(path).then().statusCode(200);
        }
        // the page, its assets, health and metrics need none
        given().get("/").then().statusCode(200).contentType("text/html");
        given().get("/dashboard.js").then().statusCode(200);
        given().get("/q/health/ready").then().statusCode(200);
        given().get("/q/metrics").then().statusCode(200);
    }

    @Test
    void theDashboardAsksForATokenOnceAndKeepsIt() throws Exception {
        ChromeDriver browser = Browser.start();
        try {
            browser.get(dashboard.toString());
            Browser.waiting(browser).until(b -> b.findElement(By.id("token-dialog")).isDisplayed());
            browser.findElement(By.id("token-input")).sendKeys(READ_TOKEN);
            browser.findElement(By.cssSelector("#token-form button[type=submit]")).click();
            Browser.waiting(browser).until(b -> !b.findElement(By.cssSelector("#totals [data-state=total] .value"))
                    .getText().equals("–"));

            browser.navigate().refresh();
            Browser.waiting(browser).until(b -> !b.findElement(By.cssSelector("#totals [data-state=total] .value"))
                    .getText().equals("–"));
            assertThat(browser.findElement(By.id("token-dialog")).isDisplayed()).as("asked only once").isFalse();
            assertThat(browser.findElement(By.id("problem")).isDisplayed()).isFalse();
        } finally {
            browser.quit();
        }
    }
}
