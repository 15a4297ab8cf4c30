package dev.atelier.executor.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The executor's pod-deletion-cost patches, against a fake API server that records them. */
class PodDeletionCostTests {

    record Patch(String method, String path, String contentType, String authorization, String body) {
    }

    HttpServer apiServer;
    final List<Patch> patches = new CopyOnWriteArrayList<>();
    final AtomicInteger status = new AtomicInteger(200);

    @TempDir
    Path account;

    @BeforeEach
    void start() throws Exception {
        apiServer = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        apiServer.createContext("/", exchange -> {
            patches.add(new Patch(exchange.getRequestMethod(), exchange.getRequestURI().getPath(),
                    exchange.getRequestHeaders().getFirst("Content-Type"),
                    exchange.getRequestHeaders().getFirst("Authorization"),
                    new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8)));
            exchange.sendResponseHeaders(status.get(), -1);
            exchange.close();
        });
        apiServer.start();
        Files.writeString(account.resolve("token"), "sa-token-1\n");
    }

    @AfterEach
    void stop() {
        apiServer.stop(0);
    }

    private PodDeletionCost cost() {
        return new PodDeletionCost(HttpClient.newHttpClient(), "http://127.0.0.1:" + apiServer.getAddress().getPort(),
                "atelier", "executor-7d9f-x2", account.resolve("token"));
    }

    @Test
    void patchesItsOwnPodOnlyWhenTheNumberOfRunningJobsChanges() throws Exception {
        PodDeletionCost cost = cost();
        cost.update(0);
        cost.update(0);
        cost.update(2);
        Files.writeString(account.resolve("token"), "sa-token-2\n"); // rotated by Kubernetes
        cost.update(1);

        assertThat(patches).hasSize(3).allSatisfy(p -> {
            assertThat(p.method()).isEqualTo("PATCH");
            assertThat(p.path()).isEqualTo("/api/v1/namespaces/atelier/pods/executor-7d9f-x2");
            assertThat(p.contentType()).isEqualTo("application/merge-patch+json");
        });
        assertThat(patches).extracting(Patch::body).containsExactly(
                "{\"metadata\": {\"annotations\": {\"controller.kubernetes.io/pod-deletion-cost\": \"0\"}}}",
                "{\"metadata\": {\"annotations\": {\"controller.kubernetes.io/pod-deletion-cost\": \"2\"}}}",
                "{\"metadata\": {\"annotations\": {\"controller.kubernetes.io/pod-deletion-cost\": \"1\"}}}");
        assertThat(patches.get(2).authorization()).isEqualTo("Bearer sa-token-2");
    }

    @Test
    void aRefusedPatchIsTriedAgainAtTheNextHeartbeat() {
        status.set(403);
        PodDeletionCost cost = cost();
        cost.update(3);
        status.set(200);
        cost.update(3);
        cost.update(3);
        assertThat(patches).hasSize(2);
    }
}
