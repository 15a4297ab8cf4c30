package dev.atelier.executor.service;

import dev.atelier.store.AttemptOutcome;
import dev.atelier.store.ClaimedJob;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.time.Duration;

/**
 * What happens in this executor, on {@code /q/metrics}: attempt durations by kind and outcome, slots, busy slots,
 * each backend's status (2 online, 1 degraded, 0 offline), claims ({@code atelier.claim.duration} by result: full,
 * short or empty; {@code atelier.claim.outrun}: claims that came back short while other claimers took the jobs they
 * saw), and the rows its maintenance removed
 * ({@code atelier.maintenance.removed}, by what: batches, export_lines, blobs, executors, idempotency_keys). It
 * watches the loops; they do not know it.
 */
@ApplicationScoped
public class ExecutorMetrics implements RunningJobs.Listener, ClaimLoop.Listener, Maintenance.Removals {

    @Inject
    MeterRegistry meters;

    @Inject
    Backends backends;

    /** Registers the gauges of the kinds this executor serves. */
    void watch(RunningJobs running) {
        for (String kind : running.busy().keySet()) {
            // suppliers: Micrometer holds them strongly (an object given to gauge() is only weakly held)
            Tags tags = Tags.of("kind", kind);
            Gauge.builder("atelier.slots", () -> backends.slots().get(kind)).tags(tags).register(meters);
            Gauge.builder("atelier.slots.busy", () -> running.busy().get(kind)).tags(tags).register(meters);
            Gauge.builder("atelier.backend.status", () -> 2 - backends.state(kind).snapshot().status().ordinal())
                    .tags(tags).register(meters);
        }
    }

    @Override
    public void ended(ClaimedJob job, Finished finished, Duration took) {
        meters.timer("atelier.attempt.duration", "kind", job.kind(), "outcome", outcomeName(finished)).record(took);
    }

    @Override
    public void claimed(Duration took, int sought, int got, boolean outrun) {
        String result = got == sought ? "full" : got > 0 ? "short" : "empty";
        meters.timer("atelier.claim.duration", "result", result).record(took);
        if (outrun) {
            meters.counter("atelier.claim.outrun").increment();
        }
    }

    @Override
    public void removed(String what, long rows) {
        meters.counter("atelier.maintenance.removed", "what", what).increment(rows);
    }

    private static String outcomeName(Finished finished) {
        if (finished instanceof Finished.Outcome o) {
            AttemptOutcome outcome = o.outcome();
            if (outcome instanceof AttemptOutcome.Success) {
                return "success";
            }
            return outcome instanceof AttemptOutcome.HandBack ? "handed_back" : "failed";
        }
        return finished instanceof Finished.Cancelled ? "cancelled" : "abandoned";
    }
}
