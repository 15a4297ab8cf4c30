package dev.atelier.executor.service;

import dev.atelier.store.AttemptOutcome;
import dev.atelier.store.JobQueue;
import dev.atelier.store.StoreException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.jboss.logging.Logger;

/**
 * Stores how attempts ended, many per transaction: a thread takes the first outcome, then everything that queued
 * up meanwhile (river's completer). Under load that batches; when idle an outcome is stored at once. Every write is
 * fenced by lease token, so storing one twice, or late, is harmless. If the database is away, outcomes wait here
 * and are retried; the heartbeat renews their leases meanwhile ({@link #waitingLeases()}), so the reaper does not
 * take a finished job back while its outcome waits to be stored.
 */
final class Completer {

    private static final Logger LOG = Logger.getLogger(Completer.class);
    private static final int MAX_BATCH = 500;

    private final JobQueue queue;
    private final Runnable afterStore;
    private final LinkedBlockingQueue<Finished> pending = new LinkedBlockingQueue<>();
    private final Thread thread;
    private volatile boolean running = true;
    private final AtomicInteger unstored = new AtomicInteger();
    /** The lease tokens of the outcomes submitted and not yet stored. */
    private final Set<UUID> waiting = ConcurrentHashMap.newKeySet();

    Completer(JobQueue queue, Runnable afterStore) {
        this.queue = queue;
        this.afterStore = afterStore;
        this.thread = new Thread(this::loop, "atelier-completer");
        this.thread.setDaemon(true);
    }

    void start() {
        thread.start();
    }

    void submit(Finished finished) {
        if (!(finished instanceof Finished.Abandoned)) {
            unstored.incrementAndGet();
            waiting.add(leaseOf(finished));
            pending.add(finished);
        }
    }

    /** The leases of outcomes waiting to be stored: still this executor's to renew. */
    Set<UUID> waitingLeases() {
        return Set.copyOf(waiting);
    }

    /** Stores what is queued, then stops; waits at most {@code timeout}. */
    void drainAndStop(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (unstored.get() > 0 && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        running = false;
        thread.interrupt();
    }

    boolean alive() {
        return thread.isAlive();
    }

    private void loop() {
        List<Finished> batch = new ArrayList<>();
        while (running) {
            try {
                if (batch.isEmpty()) {
                    Finished first = pending.poll(1, TimeUnit.SECONDS);
                    if (first == null) {
                        continue;
                    }
                    batch.add(first);
                }
                pending.drainTo(batch, MAX_BATCH - batch.size());
                store(batch);
                batch.forEach(finished -> waiting.remove(leaseOf(finished)));
                unstored.addAndGet(-batch.size());
                batch.clear();
                afterStore.run();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (StoreException e) {
                LOG.warnf("storing %d outcomes failed, retrying in 1 s: %s", batch.size(), e.getMessage());
                sleepQuietly();
            }
        }
    }

    private void store(List<Finished> batch) {
        List<AttemptOutcome> outcomes = new ArrayList<>();
        List<UUID> cancelled = new ArrayList<>();
        for (Finished finished : batch) {
            if (finished instanceof Finished.Outcome o) {
                outcomes.add(o.outcome());
            } else if (finished instanceof Finished.Cancelled c) {
                cancelled.add(c.leaseToken());
            }
        }
        if (!outcomes.isEmpty()) {
            queue.finish(outcomes, null);
        }
        if (!cancelled.isEmpty()) {
            queue.closeCancelled(cancelled, null);
        }
    }

    private static UUID leaseOf(Finished finished) {
        return finished instanceof Finished.Outcome o ? o.outcome().leaseToken() : ((Finished.Cancelled) finished).leaseToken();
    }

    private static void sleepQuietly() {
        try {
            Thread.sleep(1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
