package dev.atelier.executor.rest;

import dev.atelier.executor.service.ExecutorLoops;
import io.smallrye.common.annotation.Blocking;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import java.util.Map;
import org.eclipse.microprofile.openapi.annotations.Operation;

/**
 * The executor's preStop hook (k8s/): stop claiming and let running jobs finish, or hand them back, before the pod
 * is stopped. It answers when the executor holds no job; Kubernetes waits for it up to the pod's grace period.
 * A GET because that is what an httpGet preStop hook sends; only the pod's own kubelet calls it (no Service routes
 * it and the network policies admit only scrapes).
 */
@Path("/drain")
public class DrainResource {

    @Inject
    ExecutorLoops loops;

    @GET
    @Blocking
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(summary = "Drain this executor", description = "Stops claiming, waits for running jobs up to the "
            + "shutdown grace, hands the rest back; answers when done. For Kubernetes' preStop hook.")
    public Map<String, Object> drain() throws InterruptedException {
        int handedBack = loops.lifecycle().drain();
        return Map.of("drained", true, "handed_back", handedBack);
    }
}
