package dev.atelier.executor.service;

import dev.atelier.executor.backend.BackendState;
import dev.atelier.store.AttemptOutcomes;
import dev.atelier.store.ExecutorRegistry;
import dev.atelier.store.StoreException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.jboss.logging.Logger;

/**
 * Keeps this executor's leases and says it is alive: the heartbeat. Each round renews every lease the executor may
 * hold (running jobs, outcomes waiting to be stored, claims whose answer was lost), stops the calls whose lease is
 * gone or whose job was asked to cancel, and reports the executor (slots, busy counts, backends and models).
 *
 * <p>Its guarantees:
 * <ul>
 *   <li>Renewals go over a connection of their own, so a slow claim or a big batch of outcomes never delays one.</li>
 *   <li>When its own renewals fail while the database answers (the report goes through), a lease it could not renew
 *       before it ran out is lost: another executor may reap it and run the job. So it stops that call and lets its
 *       outcome go; the executor is fenced (liveness DOWN) until renewals work again.</li>
 *   <li>A database outage is not that: nobody can reach PostgreSQL, so nobody can reap. Calls go on, and leases are
 *       renewed as soon as it answers. It also tells maintenance how long the database has been answering, since
 *       reaping right after an outage would take leases whose holders have not renewed yet.</li>
 * </ul>
 */
public final class LeaseKeeper {

    private static final Logger LOG = Logger.getLogger(LeaseKeeper.class);

    public record Settings(Duration lease) {
    }

    private final AttemptOutcomes renewals;
    private final ExecutorRegistry registry;
    private final Backends backends;
    private final RunningJobs running;
    private final Completer completer;
    private final ClaimLoop claims;
    private final Settings settings;
    private final Clock clock;
    /** Per lease, until when it is surely ours: the last renewal (or the claim) plus a lease, on this clock. */
    private final Map<UUID, Instant> ours = new ConcurrentHashMap<>();
    /** Since when the database has answered; null while it does not. */
    private volatile Instant answeringSince = Instant.EPOCH;
    private volatile Instant renewalsFailingSince;
    private volatile boolean fenced;

    /**
     * @param renewals the queue over the heartbeat's own connection
     * @param registry the executor report, over the pool: its answer tells whether the database answers at all
     */
    public LeaseKeeper(AttemptOutcomes renewals, ExecutorRegistry registry, Backends backends, RunningJobs running,
                       Completer completer, ClaimLoop claims, Settings settings, Clock clock) {
        this.renewals = renewals;
        this.registry = registry;
        this.backends = backends;
        this.running = running;
        this.completer = completer;
        this.claims = claims;
        this.settings = settings;
        this.clock = clock;
    }

    /** One heartbeat: renew, stop what is lost or cancelled, report, and fence if renewals fail alone. */
    public synchronized void runOnce() {
        Instant started = clock.instant();
        Map<UUID, Instant> held = held(started);
        boolean renewed = renew(held, started);
        boolean reported = report();
        Instant now = clock.instant();
        boolean answers = reported || (renewed && !held.isEmpty());
        if (!answers) {
            if (answeringSince != null) {
                LOG.warn("the database does not answer; calls go on, and leases are renewed when it is back");
            }
            answeringSince = null;
        } else if (answeringSince == null) {
            answeringSince = now;
            LOG.info("the database is back");
        }
        if (renewed) {
            renewalsFailingSince = null;
            if (fenced) {
                LOG.info("lease renewals work again; no longer fenced");
            }
            fenced = false;
        } else if (answers && !answeringSince.plus(settings.lease()).isAfter(now)) {
            fenceExpired(held.keySet(), now);
        }
        ours.keySet().retainAll(held.keySet());
    }

    /** Every lease this executor may hold, with when it began. */
    private Map<UUID, Instant> held(Instant now) {
        Map<UUID, Instant> held = new HashMap<>(claims.unconfirmed());
        held.putAll(completer.waitingLeases(now, answeringSince));
        held.putAll(running.leases());
        held.forEach((token, start) -> ours.putIfAbsent(token, start.plus(settings.lease())));
        return held;
    }

    private boolean renew(Map<UUID, Instant> held, Instant sentAt) {
        try {
            AttemptOutcomes.Heartbeat beat = renewals.heartbeat(held.keySet(), settings.lease(), null);
            beat.extended().forEach(token -> ours.put(token, sentAt.plus(settings.lease())));
            beat.lost().forEach(token -> running.stop(token, CallControl.StopReason.LEASE_LOST));
            beat.cancelRequested().forEach(token -> running.stop(token, CallControl.StopReason.CANCEL));
            return true;
        } catch (StoreException e) {
            if (renewalsFailingSince == null) {
                renewalsFailingSince = sentAt;
            }
            LOG.warnf("renewing %d leases failed: %s", held.size(), e.getMessage());
            return false;
        }
    }

    /** Renewals fail while the database answers: every lease past its time is someone else's to take now. */
    private void fenceExpired(Set<UUID> held, Instant now) {
        List<UUID> lost = new ArrayList<>();
        for (UUID token : held) {
            Instant until = ours.get(token);
            if (until != null && !until.isAfter(now)) {
                lost.add(token);
            }
        }
        if (lost.isEmpty()) {
            return;
        }
        fenced = true;
        LOG.errorf("lease renewals have failed since %s while the database answers: %d leases ran out and are"
                + " given up (their calls stopped, their outcomes dropped); the reaper takes them back",
                renewalsFailingSince, lost.size());
        for (UUID token : lost) {
            running.stop(token, CallControl.StopReason.LEASE_LOST);
            completer.discard(token);
            ours.remove(token);
        }
    }

    private boolean report() {
        List<ExecutorRegistry.BackendReport> reports = new ArrayList<>();
        Map<String, Integer> busy = running.busy();
        for (String kind : busy.keySet()) {
            BackendState state = backends.state(kind);
            BackendState.Snapshot s = state.snapshot();
            reports.add(new ExecutorRegistry.BackendReport(kind, state.url(), s.status().wire(), s.models(),
                    s.checkedAt(), s.detail(), s.loaded(), state.refused(clock.instant())));
        }
        try {
            // a drained executor says so from the moment it stopped claiming, so the summary shows it draining
            registry.report(backends.executorId(), backends.slots(), busy, reports, claims.stoppedAt(), null);
            return true;
        } catch (StoreException e) {
            LOG.warnf("reporting this executor failed: %s", e.getMessage());
            return !e.isTransient(); // refused for what it said: the database answered
        }
    }

    /** Whether the database has answered for at least {@code span} without a break, as far as heartbeats saw. */
    public boolean answeringFor(Duration span) {
        Instant since = answeringSince;
        return since != null && !since.plus(span).isAfter(clock.instant());
    }

    /** True while renewals fail with the database answering and a lease was given up: liveness DOWN. */
    public boolean fenced() {
        return fenced;
    }
}
