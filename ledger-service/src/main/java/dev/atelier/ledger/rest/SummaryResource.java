package dev.atelier.ledger.rest;

import dev.atelier.api.ProblemException;
import dev.atelier.api.QueryParams;
import dev.atelier.api.view.BatchResponse;
import dev.atelier.ledger.config.LedgerConfig;
import dev.atelier.ledger.rest.LedgerViews.BackendView;
import dev.atelier.ledger.rest.LedgerViews.ExecutorView;
import dev.atelier.ledger.rest.LedgerViews.Summary;
import dev.atelier.store.BatchViews;
import dev.atelier.store.ExecutorRegistry;
import dev.atelier.store.ExecutorRegistry.LiveExecutor;
import dev.atelier.store.JobCounts;
import dev.atelier.store.JobState;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

@Path("/api/v1/summary")
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = "summary", description = "Totals, backends and executors at a glance")
public class SummaryResource {

    private static final List<String> BEST_FIRST = List.of("online", "degraded", "offline");

    @Inject
    JobCounts counts;

    @Inject
    BatchViews batches;

    @Inject
    ExecutorRegistry registry;

    @Inject
    LedgerConfig config;

    @GET
    @Operation(operationId = "getSummary",
            summary = "The status summary",
            description = "Job counts (optionally for one batch, or for batches with a label such as project:mk1), "
                    + "each backend kind's best status among live executors, their backends and the executors.")
    public Summary summary(@QueryParam("batch") String batch, @QueryParam("label") List<String> label) {
        QueryParams params = new QueryParams();
        UUID batchId = params.uuid("batch", batch);
        Map<String, String> labels = params.labels("label", label);
        params.check();
        if (batchId != null && !batches.exists(batchId)) {
            throw ProblemException.of(404, "no batch " + batchId);
        }
        Map<JobState, Long> byState = counts.byState(batchId, labels);
        List<LiveExecutor> live = registry.live(config.liveWindow(), null);
        return new Summary(byState.values().stream().mapToLong(Long::longValue).sum(), BatchResponse.wireCounts(byState),
                services(live), backends(live), executors(live), Instant.now());
    }

    /** API.md: online if any live executor's backend of the kind is online, else degraded if any is, else offline. */
    static Map<String, String> services(List<LiveExecutor> live) {
        Map<String, String> services = new LinkedHashMap<>();
        for (String kind : SummaryKinds.ALL) {
            int best = BEST_FIRST.size() - 1;
            for (LiveExecutor executor : live) {
                int rank = executor.backend(kind).map(b -> BEST_FIRST.indexOf(b.status())).orElse(best);
                best = Math.min(best, rank < 0 ? best : rank);
            }
            services.put(kind, BEST_FIRST.get(best));
        }
        return services;
    }

    static List<BackendView> backends(List<LiveExecutor> live) {
        List<BackendView> views = new ArrayList<>();
        for (LiveExecutor executor : live) {
            executor.backends().forEach(b -> views.add(new BackendView(b.kind() + "@" + executor.id(), b.kind(),
                    b.url(), b.status(), b.models(), b.checkedAt(), b.detail(), b.loaded().stream()
                    .map(m -> new LedgerViews.LoadedView(m.name(), m.sizeVram(), m.expiresAt())).toList())));
        }
        return views;
    }

    static List<ExecutorView> executors(List<LiveExecutor> live) {
        return live.stream().map(e -> new ExecutorView(e.id(), e.startedAt(), e.lastSeen(), e.slots(), e.busy(),
                        e.drainingSince() != null, e.drainingSince()))
                .toList();
    }
}
