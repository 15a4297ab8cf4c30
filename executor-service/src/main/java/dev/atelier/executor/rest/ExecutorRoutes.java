package dev.atelier.executor.rest;

import dev.atelier.executor.service.ExecutorLoops;
import io.quarkus.micrometer.runtime.export.handlers.PrometheusHandler;
import io.quarkus.vertx.http.ManagementInterface;
import io.vertx.ext.web.Router;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import java.util.Map;
import java.util.Optional;

/**
 * The executor's preStop hook (k8s/), {@code GET /drain}: stop claiming and let running jobs finish, or hand them
 * back, before the pod is stopped. It answers when the executor holds no job; Kubernetes waits for it up to the pod's
 * grace period. It is served on the management interface alone ({@code quarkus.management.port}, 9082), which the
 * network policies close to every pod: the kubelet's hook comes from the node and still reaches it, and nothing else
 * may stop an executor claiming. A GET because that is what an httpGet preStop hook sends.
 * <p>
 * Health and metrics stay on the service port, where the probes and Prometheus find them (Quarkus would move the
 * Prometheus route to the management interface, and a scrape must never be able to drain).
 */
@Singleton
public class ExecutorRoutes {

    @Inject
    ExecutorLoops loops;

    void drainOnManagementPort(@Observes ManagementInterface management) {
        management.router().get("/drain").blockingHandler(ctx -> {
            try {
                int handedBack = loops.lifecycle().drain();
                ctx.json(Map.of("drained", true, "handed_back", handedBack));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                ctx.fail(503, e);
            }
        }, false);
    }

    /** Quarkus's own Prometheus handler (content negotiation, request context for gauges), on the service port. */
    void metricsOnServicePort(@Observes Router router) {
        router.get("/q/metrics").blockingHandler(new PrometheusHandler(false, Optional.empty()), false);
    }
}
