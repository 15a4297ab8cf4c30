package dev.atelier.ledger.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpServer;
import dev.atelier.api.ProblemException;
import dev.atelier.ledger.service.GatewayActions.Action;
import jakarta.ws.rs.core.Response;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The ledger's forwarding of the dashboard's actions, against a stand-in gateway over real HTTP: what is sent (the
 * fixed path, the caller's token, no body), what comes back (the gateway's status and answer as they are), and a
 * gateway that is away, silent or answers far too much.
 */
class GatewayActionsTests {

    /** What the stand-in gateway was asked: method, path with query, Authorization, body length. */
    private record Asked(String method, String path, String authorization, int bodyBytes) {
    }

    private final List<Asked> asked = new CopyOnWriteArrayList<>();
    private HttpServer gateway;
    private volatile int status = 202;
    private volatile String answer = "{\"id\": \"x\", \"state\": \"cancelled\"}";
    private volatile String contentType = "application/json";
    private volatile Duration delay = Duration.ZERO;

    @BeforeEach
    void startGateway() throws IOException {
        gateway = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        gateway.createContext("/", exchange -> {
            asked.add(new Asked(exchange.getRequestMethod(), exchange.getRequestURI().toString(),
                    exchange.getRequestHeaders().getFirst("Authorization"), exchange.getRequestBody().readAllBytes().length));
            try {
                Thread.sleep(delay.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            byte[] body = answer.getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().add("Content-Type", contentType);
            exchange.getResponseHeaders().add("WWW-Authenticate", "Bearer realm=\"atelier\"");
            exchange.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            } catch (IOException ignored) {
                // the ledger gave up waiting
            }
        });
        gateway.setExecutor(java.util.concurrent.Executors.newCachedThreadPool());
        gateway.start();
    }

    @AfterEach
    void stopGateway() {
        gateway.stop(0);
    }

    private GatewayActions actions(URI url, Duration timeout) {
        GatewayActions actions = new GatewayActions();
        actions.gatewayUrl = url;
        actions.timeout = timeout;
        return actions;
    }

    private GatewayActions actions() {
        return actions(URI.create("http://127.0.0.1:" + gateway.getAddress().getPort()), Duration.ofSeconds(5));
    }

    private static String body(Response response) {
        return new String((byte[]) response.getEntity(), StandardCharsets.UTF_8);
    }

    @Test
    void eachActionGoesToItsOwnPathWithTheCallersTokenAndNoBody() {
        UUID id = UUID.randomUUID();
        for (Action action : Action.values()) {
            Response response = actions().forward(action, id, "Bearer studio-secret");
            assertThat(response.getStatus()).isEqualTo(202);
            assertThat(body(response)).isEqualTo(answer);
            assertThat(response.getMediaType().toString()).isEqualTo("application/json");
        }
        assertThat(asked).extracting(Asked::path).containsExactly("/api/v1/batches/" + id + "/cancel",
                "/api/v1/batches/" + id + "/retry-failed", "/api/v1/jobs/" + id + "/cancel", "/api/v1/jobs/" + id + "/retry");
        assertThat(asked).allSatisfy(a -> {
            assertThat(a.method()).isEqualTo("POST");
            assertThat(a.authorization()).isEqualTo("Bearer studio-secret");
            assertThat(a.bodyBytes()).isZero();
        });

        actions().forward(Action.CANCEL_JOB, id, null);
        assertThat(asked.get(asked.size() - 1).authorization()).as("no token is made up").isNull();
    }

    @Test
    void aGatewayBehindAPathPrefixKeepsIt() {
        UUID id = UUID.randomUUID();
        URI prefixed = URI.create("http://127.0.0.1:" + gateway.getAddress().getPort() + "/gateway/");
        assertThat(actions(prefixed, Duration.ofSeconds(5)).forward(Action.RETRY_JOB, id, "Bearer s").getStatus()).isEqualTo(202);
        assertThat(asked).extracting(Asked::path).containsExactly("/gateway/api/v1/jobs/" + id + "/retry");
    }

    @Test
    void theGatewaysRefusalComesBackAsItIsNamingTheRoleNeeded() {
        status = 403;
        contentType = "application/problem+json";
        answer = "{\"status\": 403, \"detail\": \"cancelling another's batch needs an admin token\"}";
        Response response = actions().forward(Action.CANCEL_BATCH, UUID.randomUUID(), "Bearer contractor");
        assertThat(response.getStatus()).isEqualTo(403);
        assertThat(response.getMediaType().toString()).isEqualTo("application/problem+json");
        assertThat(body(response)).contains("needs an admin token");
        assertThat(response.getHeaderString("WWW-Authenticate")).isEqualTo("Bearer realm=\"atelier\"");

        status = 409;
        answer = "{\"status\": 409, \"detail\": \"job look is running; only failed or cancelled jobs are retried\"}";
        assertThat(actions().forward(Action.RETRY_JOB, UUID.randomUUID(), "Bearer s").getStatus()).isEqualTo(409);
    }

    @Test
    void aSilentGatewayIsA504ThatSaysTheActionMayHaveBeenTaken() {
        delay = Duration.ofSeconds(3);
        long start = System.nanoTime();
        assertThatThrownBy(() -> actions(actions().gatewayUrl, Duration.ofMillis(500))
                .forward(Action.CANCEL_JOB, UUID.randomUUID(), "Bearer s"))
                .isInstanceOfSatisfying(ProblemException.class, e -> {
                    assertThat(e.problem().status()).isEqualTo(504);
                    assertThat(e.problem().detail()).contains("may or may not have been taken");
                });
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(3));
    }

    @Test
    void aGatewayAwayIsA502ThatSaysNothingWasDone() throws IOException {
        int closedPort;
        try (ServerSocket socket = new ServerSocket(0)) {
            closedPort = socket.getLocalPort();
        }
        assertThatThrownBy(() -> actions(URI.create("http://127.0.0.1:" + closedPort), Duration.ofSeconds(2))
                .forward(Action.RETRY_FAILED, UUID.randomUUID(), "Bearer s"))
                .isInstanceOfSatisfying(ProblemException.class, e -> {
                    assertThat(e.problem().status()).isEqualTo(502);
                    assertThat(e.problem().detail()).contains("nothing was done").contains("atelier.ledger.gateway-url")
                            .doesNotContain(String.valueOf(closedPort));
                });
    }

    @Test
    void anAnswerFarLargerThanAnyActionGivesIsNotRelayed() {
        answer = "x".repeat(GatewayActions.MAX_ANSWER_BYTES + 1);
        assertThatThrownBy(() -> actions().forward(Action.CANCEL_JOB, UUID.randomUUID(), "Bearer s"))
                .isInstanceOfSatisfying(ProblemException.class, e -> assertThat(e.problem().status()).isEqualTo(502));
        answer = "x".repeat(GatewayActions.MAX_ANSWER_BYTES);
        assertThat(actions().forward(Action.CANCEL_JOB, UUID.randomUUID(), "Bearer s").getStatus()).isEqualTo(202);
    }
}
