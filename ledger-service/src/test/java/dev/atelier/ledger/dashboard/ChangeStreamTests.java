package dev.atelier.ledger.dashboard;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;

import dev.atelier.ledger.LedgerData;
import dev.atelier.ledger.service.StreamTickets;
import dev.atelier.store.BatchMode;
import dev.atelier.store.testing.Batches;
import dev.atelier.store.testing.PostgresTestResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import jakarta.inject.Inject;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.URL;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The dashboard's change stream with authentication on, as packaged: refused without a ticket, with one not ours
 * and with an expired one; a ticket comes only with a token, and opens a stream that says when something changed.
 */
@QuarkusTest
@QuarkusTestResource(PostgresTestResource.class)
@TestProfile(ReadTokenTests.AuthOn.class)
class ChangeStreamTests {

    @TestHTTPResource("/events")
    URL events;

    @Inject
    StreamTickets tickets;

    @Inject
    LedgerData data;

    @Test
    void aStreamWithoutAValidTicketIsRefusedAndATicketComesOnlyWithAToken() {
        given().get("/events").then().statusCode(401).contentType("application/problem+json")
                .body("detail", containsString("ticket"));
        given().queryParam("ticket", "not-a-ticket").get("/events").then().statusCode(401);
        // a ticket made out to another name, keeping the signature
        String issued = tickets.issue("wall", Instant.now());
        String lead = java.util.Base64.getUrlEncoder().withoutPadding().encodeToString("lead".getBytes(StandardCharsets.UTF_8));
        String forged = lead + issued.substring(issued.indexOf('.'));
        given().queryParam("ticket", forged).get("/events").then().statusCode(401);
        String expired = tickets.issue("wall", Instant.now().minus(Duration.ofMinutes(2)));
        given().queryParam("ticket", expired).get("/events").then().statusCode(401).body("detail", containsString("expired"));

        given().get("/api/v1/stream-ticket").then().statusCode(401);
        given().auth().oauth2(ReadTokenTests.READ_TOKEN).get("/api/v1/stream-ticket").then().statusCode(200)
                .body("ticket", containsString("."));
    }

    @Test
    void aTicketOpensAStreamThatSaysWhenSomethingShownChanged() throws Exception {
        String ticket = given().auth().oauth2(ReadTokenTests.READ_TOKEN).get("/api/v1/stream-ticket").then()
                .statusCode(200).extract().path("ticket");
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        HttpResponse<java.io.InputStream> response = http.send(HttpRequest.newBuilder(
                URI.create(events + "?ticket=" + URLEncoder.encode(ticket, StandardCharsets.UTF_8))).build(),
                HttpResponse.BodyHandlers.ofInputStream());
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("Content-Type")).hasValueSatisfying(t -> assertThat(t).startsWith("text/event-stream"));
        BlockingQueue<String> lines = new ArrayBlockingQueue<>(1000);
        Thread reader = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8))) {
                for (String line = in.readLine(); line != null; line = in.readLine()) {
                    lines.offer(line);
                }
            } catch (Exception ignored) {
                // closed at the end of the test
            }
        });
        reader.setDaemon(true);
        reader.start();
        try {
            assertThat(nextChange(lines)).as("the first event says where things stand").isNotNull();
            data.store(Batches.batch(BatchMode.PARALLEL).name("stream-" + System.nanoTime()).ollamaJobs(2, 1));
            assertThat(nextChange(lines)).as("a stored batch changes what is shown").isNotNull();
        } finally {
            response.body().close();
        }
    }

    /** The data of the next change event, within 10 s, or null. */
    private static String nextChange(BlockingQueue<String> lines) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        boolean named = false;
        while (System.nanoTime() < deadline) {
            String line = lines.poll(200, TimeUnit.MILLISECONDS);
            if (line == null) {
                continue;
            }
            if (line.equals("event:change") || line.equals("event: change")) {
                named = true;
            } else if (named && line.startsWith("data:")) {
                return line.substring(5).trim();
            }
        }
        return null;
    }
}
