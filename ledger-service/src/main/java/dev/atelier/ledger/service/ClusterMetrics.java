package dev.atelier.ledger.service;

import dev.atelier.ledger.config.LedgerConfig;
import dev.atelier.ledger.rest.SummaryKinds;
import dev.atelier.store.ExecutorRegistry;
import dev.atelier.store.ExecutorRegistry.LiveExecutor;
import dev.atelier.store.JobCounts;
import dev.atelier.store.JobViews;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.MultiGauge;
import io.micrometer.core.instrument.MultiGauge.Row;
import io.micrometer.core.instrument.Tags;
import io.quarkus.runtime.StartupEvent;
import io.quarkus.scheduler.Scheduled;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.jboss.logging.Logger;

/**
 * What is in the database, as Prometheus gauges (DESIGN.md: the ledger exports jobs by state, the age of the
 * oldest pending job and executors live). The figures are read on a schedule, not per scrape, and each read costs
 * a few rows per batch (job_counts), the open jobs (a partial index) and the executor table: never a scan of the
 * job table.
 */
@ApplicationScoped
public class ClusterMetrics {

    private static final Logger LOG = Logger.getLogger(ClusterMetrics.class);

    @Inject
    MeterRegistry meters;

    @Inject
    JobCounts counts;

    @Inject
    JobViews jobs;

    @Inject
    ExecutorRegistry executors;

    @Inject
    LedgerConfig config;

    private MultiGauge jobsByGroup;
    private MultiGauge oldestWaiting;
    private MultiGauge executorsLive;
    private MultiGauge slots;
    private MultiGauge busySlots;
    private MultiGauge utilisation;
    private MultiGauge backends;

    void onStart(@Observes StartupEvent start) {
        jobsByGroup = MultiGauge.builder("atelier.jobs")
                .description("Jobs by state, job priority and backend kind").register(meters);
        oldestWaiting = MultiGauge.builder("atelier.jobs.oldest.waiting.age").baseUnit("seconds")
                .description("Age of the oldest pending or retry job, by backend kind").register(meters);
        executorsLive = MultiGauge.builder("atelier.executors.live")
                .description("Executors that sent a heartbeat within two lease lengths").register(meters);
        slots = MultiGauge.builder("atelier.cluster.slots")
                .description("Slots of live executors, by backend kind").register(meters);
        busySlots = MultiGauge.builder("atelier.cluster.slots.busy")
                .description("Busy slots of live executors as of their last heartbeat, by backend kind").register(meters);
        utilisation = MultiGauge.builder("atelier.cluster.slot.utilisation")
                .description("Busy slots over slots of live executors (0..1), by backend kind").register(meters);
        backends = MultiGauge.builder("atelier.backends")
                .description("Live executors' backends by kind and status").register(meters);
        refresh();
    }

    /** Reads the figures again; a failure leaves the last ones in place and is logged. */
    @Scheduled(every = "${atelier.ledger.metrics-refresh:15s}", delayed = "${atelier.ledger.metrics-refresh:15s}",
            concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    public void refresh() {
        try {
            jobsByGroup.register(counts.byGroup().stream()
                    .map(g -> Row.of(Tags.of("state", g.state().wire(), "priority", Integer.toString(g.priority()),
                            "backend", g.kind()), g.jobs()))
                    .toList(), true);
            Instant now = Instant.now();
            Map<String, Instant> oldest = jobs.oldestWaiting(SummaryKinds.ALL);
            oldestWaiting.register(SummaryKinds.ALL.stream()
                    .map(kind -> Row.of(Tags.of("backend", kind), oldest.containsKey(kind)
                            ? Math.max(0, Duration.between(oldest.get(kind), now).toMillis() / 1000.0) : 0.0))
                    .toList(), true);
            List<LiveExecutor> live = executors.live(config.liveWindow(), null);
            executorsLive.register(List.of(Row.of(Tags.empty(), live.size())), true);
            List<Row<?>> slotRows = new ArrayList<>();
            List<Row<?>> busyRows = new ArrayList<>();
            List<Row<?>> utilisationRows = new ArrayList<>();
            List<Row<?>> backendRows = new ArrayList<>();
            for (String kind : SummaryKinds.ALL) {
                int total = live.stream().mapToInt(e -> e.slots(kind)).sum();
                int busy = live.stream().mapToInt(e -> Math.min(e.busy(kind), e.slots(kind))).sum();
                Tags tags = Tags.of("backend", kind);
                slotRows.add(Row.of(tags, total));
                busyRows.add(Row.of(tags, busy));
                utilisationRows.add(Row.of(tags, total == 0 ? 0.0 : (double) busy / total));
                for (String status : List.of("online", "degraded", "offline")) {
                    long n = live.stream().filter(e -> e.backend(kind).filter(b -> b.status().equals(status)).isPresent())
                            .count();
                    backendRows.add(Row.of(Tags.of("backend", kind, "status", status), n));
                }
            }
            slots.register(slotRows, true);
            busySlots.register(busyRows, true);
            utilisation.register(utilisationRows, true);
            backends.register(backendRows, true);
        } catch (RuntimeException e) {
            LOG.warnf(e, "could not read the cluster metrics from the database; keeping the last figures");
        }
    }
}
