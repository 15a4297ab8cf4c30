package dev.atelier.executor.service;

import dev.atelier.store.AttemptOutcome;
import dev.atelier.store.AttemptOutcomes;
import dev.atelier.store.StorableText;
import dev.atelier.store.StoreException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/**
 * Stores how attempts ended, many per transaction (river's completer): its thread takes the first outcome, then
 * everything that queued up meanwhile. Its guarantee: every outcome is stored, turned into a failure that can be
 * stored, or let go so the reaper takes its job back; none can wedge it.
 * <ul>
 *   <li>A transient failure (the database away, a deadlock) keeps the batch, and it is tried again as it is. The
 *       heartbeat renews the waiting outcomes' leases meanwhile ({@link #waitingLeases}).</li>
 *   <li>Any other failure is about what was sent: the batch is split in halves until the outcome PostgreSQL refuses
 *       is alone; the rest are stored, and that one becomes a failure with a clear message (not retried).</li>
 *   <li>An outcome still waiting {@link Settings#giveUpAfter} after the database was last seen answering is let go:
 *       no longer renewed, nor tried again, so the reaper takes its job back.</li>
 * </ul>
 * Every write is fenced by lease token, so storing one twice, or late, is harmless.
 */
public final class Completer {

    private static final Logger LOG = Logger.getLogger(Completer.class);
    private static final int MAX_BATCH = 500;

    /**
     * @param giveUpAfter how long an outcome may wait while the database answers before its lease is let go
     * @param retryPause  the pause after a transient failure
     */
    public record Settings(Duration giveUpAfter, Duration retryPause) {
        /** Waiting three leases: long past any pause of a healthy database. */
        public static Settings forLease(Duration lease) {
            return new Settings(lease.multipliedBy(3), Duration.ofSeconds(1));
        }
    }

    /** An outcome waiting to be stored, with when its lease began and when it arrived here. */
    private record Waiting(Finished finished, Instant leaseStart, Instant submittedAt) {
        UUID leaseToken() {
            return Completer.leaseOf(finished);
        }
    }

    private final AttemptOutcomes store;
    private final Settings settings;
    private final Clock clock;
    private final AfterStore afterStore;
    private final LinkedBlockingQueue<Waiting> queued = new LinkedBlockingQueue<>();
    /** Outcomes submitted and not yet stored or let go, by lease token. */
    private final Map<UUID, Waiting> waiting = new ConcurrentHashMap<>();
    private final List<Waiting> batch = new ArrayList<>();
    /** Whether what the current batch stored so far may have opened work; written by the round only. */
    private boolean opened;
    private final Thread thread = Threads.daemon("atelier-completer").newThread(this::loop);
    private volatile boolean running = true;

    /** Told after each batch of outcomes was stored. */
    public interface AfterStore {
        /**
         * @param mayHaveOpenedWork whether a job may have become claimable by them (a gate, a dependent, a retry):
         *                          {@link AttemptOutcomes.Stored#mayHaveOpenedWork()}
         */
        void stored(boolean mayHaveOpenedWork);
    }

    /** @param afterStore told after outcomes were stored, so the claim loop can look for the work they opened */
    public Completer(AttemptOutcomes store, Settings settings, Clock clock, AfterStore afterStore) {
        this.store = store;
        this.settings = settings;
        this.clock = clock;
        this.afterStore = afterStore;
    }

    public void start() {
        thread.start();
    }

    /** Takes an outcome to store; nothing to store for an abandoned attempt. */
    public void submit(Finished finished, Instant leaseStart) {
        if (finished instanceof Finished.Abandoned) {
            return;
        }
        Waiting entry = new Waiting(finished, leaseStart, clock.instant());
        waiting.put(entry.leaseToken(), entry);
        queued.add(entry);
    }

    /**
     * The leases of outcomes waiting to be stored, each with when it began: still this executor's to renew. An
     * outcome that has waited {@link Settings#giveUpAfter} since the later of its arrival and {@code answeringSince}
     * (when the database was last seen coming back; null while it does not answer) is let go here.
     */
    public Map<UUID, Instant> waitingLeases(Instant now, Instant answeringSince) {
        Map<UUID, Instant> leases = new LinkedHashMap<>();
        waiting.forEach((token, entry) -> {
            if (givenUp(entry, now, answeringSince)) {
                waiting.remove(token, entry);
                LOG.errorf("gave up storing the outcome of lease %s after %s while the database answered; the reaper"
                        + " takes its job back", token, Duration.between(entry.submittedAt(), now));
            } else {
                leases.put(token, entry.leaseStart());
            }
        });
        return leases;
    }

    /** Lets an outcome go: its lease was lost, so the reaper takes the job back and the outcome would be fenced off. */
    public void discard(UUID leaseToken) {
        waiting.remove(leaseToken);
    }

    public int waitingCount() {
        return waiting.size();
    }

    /**
     * One round: stores every outcome queued now (in batches), splitting around those PostgreSQL refuses.
     *
     * @return how many were stored or let go
     * @throws StoreException when the database is away; the outcomes stay queued
     */
    public synchronized int runOnce() {
        int done = 0;
        while (true) {
            queued.drainTo(batch, MAX_BATCH - batch.size()); // a batch kept after a failure is tried again first
            if (batch.isEmpty()) {
                return done;
            }
            opened = false;
            try {
                store(batch);
            } catch (StoreException e) {
                batch.removeIf(entry -> waiting.get(entry.leaseToken()) != entry); // let go meanwhile
                throw e;
            }
            done += batch.size();
            batch.forEach(entry -> waiting.remove(entry.leaseToken(), entry));
            batch.clear();
            afterStore.stored(opened);
        }
    }

    /** Stops after storing what is queued, waiting at most {@code timeout}. */
    public void drainAndStop(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!waiting.isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        running = false;
        thread.interrupt();
        thread.join(1000);
    }

    public boolean alive() {
        return thread.isAlive();
    }

    private void loop() {
        while (running) {
            try {
                Waiting first = queued.poll(1, TimeUnit.SECONDS);
                if (first != null) {
                    synchronized (this) {
                        batch.add(first);
                    }
                }
                runOnce();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (StoreException e) {
                LOG.warnf("storing outcomes failed, retrying in %d ms: %s", settings.retryPause().toMillis(), e.getMessage());
                Threads.pause(settings.retryPause());
            } catch (RuntimeException e) {
                LOG.errorf(e, "the completer failed; retrying in %d ms", settings.retryPause().toMillis());
                Threads.pause(settings.retryPause());
            }
        }
    }

    /** Stores a batch; a failure about what was sent is narrowed down by halves to the outcomes that cause it. */
    private void store(List<Waiting> entries) {
        try {
            write(entries);
        } catch (StoreException e) {
            if (e.isTransient()) {
                throw e;
            }
            if (entries.size() > 1) {
                int half = entries.size() / 2;
                store(entries.subList(0, half));
                store(entries.subList(half, entries.size()));
            } else {
                storeAsFailure(entries.get(0), e);
            }
        }
    }

    /** The outcome PostgreSQL refuses, stored as a failure that says why; let go if even that cannot be stored. */
    private void storeAsFailure(Waiting entry, StoreException refused) {
        Finished finished = entry.finished();
        if (!(finished instanceof Finished.Outcome o)) {
            LOG.errorf("could not close a cancelled attempt (lease %s), letting it go: %s", entry.leaseToken(),
                    refused.getMessage());
            return;
        }
        AttemptOutcome outcome = o.outcome();
        String error = "the outcome could not be stored, so the job fails: " + refused.getMessage();
        LOG.errorf("job %s: %s", outcome.jobId(), error);
        try {
            write(List.of(new Waiting(new Finished.Outcome(new AttemptOutcome.Failure(outcome.jobId(),
                    outcome.leaseToken(), StorableText.clean(error), false)), entry.leaseStart(), entry.submittedAt())));
        } catch (StoreException e) {
            if (e.isTransient()) {
                throw e;
            }
            LOG.errorf("job %s: not even its failure could be stored (%s); its lease is let go for the reaper",
                    outcome.jobId(), e.getMessage());
        }
    }

    private void write(List<Waiting> entries) {
        List<AttemptOutcome> outcomes = new ArrayList<>();
        List<UUID> cancelled = new ArrayList<>();
        for (Waiting entry : entries) {
            if (entry.finished() instanceof Finished.Outcome o) {
                outcomes.add(o.outcome());
            } else if (entry.finished() instanceof Finished.Cancelled c) {
                cancelled.add(c.leaseToken());
            }
        }
        if (!outcomes.isEmpty()) {
            opened |= store.finish(outcomes, null).mayHaveOpenedWork();
        }
        if (!cancelled.isEmpty()) {
            store.closeCancelled(cancelled, null);
            opened = true; // the cancelled job may have held a batch's gate
        }
    }

    private boolean givenUp(Waiting entry, Instant now, Instant answeringSince) {
        if (answeringSince == null) {
            return false;
        }
        Instant from = entry.submittedAt().isAfter(answeringSince) ? entry.submittedAt() : answeringSince;
        return !now.isBefore(from.plus(settings.giveUpAfter()));
    }

    static UUID leaseOf(Finished finished) {
        if (finished instanceof Finished.Outcome o) {
            return o.outcome().leaseToken();
        }
        return ((Finished.Cancelled) finished).leaseToken();
    }
}
