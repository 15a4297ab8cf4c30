package dev.atelier.executor.service;

import dev.atelier.executor.backend.BackendProbe;
import dev.atelier.executor.backend.BackendState;
import dev.atelier.executor.backend.CallFailure;
import dev.atelier.executor.config.BackendsConfig;
import io.quarkus.scheduler.Scheduled;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Instance;
import jakarta.inject.Inject;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.jboss.logging.Logger;

/**
 * The scheduled backend health check (DESIGN.md, vocabulary): answering quickly is {@code online}, answering slowly
 * or with errors is {@code degraded}, not answering is {@code offline}. It also refreshes the model lists. Its
 * findings reach the database with the next heartbeat; a backend outage never makes the executor unhealthy.
 */
@ApplicationScoped
public class BackendMonitor implements AttemptTable.BackendChecks {

    private static final Logger LOG = Logger.getLogger(BackendMonitor.class);

    @Inject
    Instance<BackendProbe> probes;

    @Inject
    Backends backends;

    @Inject
    BackendsConfig config;

    @Inject
    Clock clock;

    private volatile Runnable claimableAgain = () -> { };

    /** Runs {@code wake} whenever a backend that could not take work can again (the claim loop looks at once). */
    public void whenClaimableAgain(Runnable wake) {
        claimableAgain = wake;
    }

    @Scheduled(every = "${atelier.backends.health-interval}", delayed = "${atelier.backends.health-interval}",
            concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    void scheduledCheck() {
        checkAll();
    }

    @Override
    public void refreshModels() {
        checkAll();
    }

    /** Looks at every served backend once; also called when a call learned that a model is gone. */
    public synchronized void checkAll() {
        for (BackendProbe probe : probes) {
            if (backends.slots().getOrDefault(probe.kind(), 0) > 0) {
                check(probe);
            }
        }
    }

    /**
     * Whether a backend answers at all, by a check made after {@code since} (a call broke off mid-answer then). Calls
     * that broke together share one check: the first caller makes it, the others find it done.
     */
    @Override
    public synchronized boolean reachable(String kind, Instant since) {
        Instant checked = backends.state(kind).snapshot().checkedAt();
        if (checked == null || checked.isBefore(since)) {
            for (BackendProbe probe : probes) {
                if (probe.kind().equals(kind)) {
                    check(probe);
                }
            }
        }
        return backends.state(kind).snapshot().status() != BackendState.Status.OFFLINE;
    }

    private void check(BackendProbe probe) {
        BackendState state = backends.state(probe.kind());
        BackendsConfig.Backend settings = "ollama".equals(probe.kind()) ? config.ollama() : config.comfyui();
        boolean wasClaimable = state.snapshot().claimable(clock.instant());
        long started = System.nanoTime();
        try {
            List<String> models = probe.look();
            Duration took = Duration.ofNanos(System.nanoTime() - started);
            String detail = probe.detail().isBlank() ? "" : "; " + probe.detail();
            if (took.compareTo(settings.slowAfter()) > 0) {
                state.checked(BackendState.Status.DEGRADED, models, probe.loaded(), clock.instant(),
                        "slow: answered in " + took.toMillis() + " ms" + detail);
            } else {
                state.checked(BackendState.Status.ONLINE, models, probe.loaded(), clock.instant(),
                        "answered in " + took.toMillis() + " ms" + detail);
            }
        } catch (CallFailure.Unavailable e) {
            state.checked(e.busy() ? BackendState.Status.DEGRADED : BackendState.Status.OFFLINE, null, clock.instant(),
                    e.getMessage());
        } catch (RuntimeException e) {
            state.checked(BackendState.Status.DEGRADED, null, clock.instant(), e.getMessage());
        }
        BackendState.Snapshot now = state.snapshot();
        if (!wasClaimable && now.claimable(clock.instant())) {
            LOG.infof("%s at %s is %s again", probe.kind(), state.url(), now.status().wire());
            claimableAgain.run();
        }
    }
}
