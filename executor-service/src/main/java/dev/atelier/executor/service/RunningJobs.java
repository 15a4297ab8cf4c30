package dev.atelier.executor.service;

import dev.atelier.store.AttemptOutcome;
import dev.atelier.store.ClaimedJob;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import org.jboss.logging.Logger;

/**
 * The jobs this executor runs now, one thread each, within its slots per backend kind. Its guarantee: whatever a
 * runner does (returns, throws, runs out of memory), its outcome reaches the completer and its slot is freed, in a
 * {@code finally}; the outcome is handed over before the slot is freed, so the job's lease is never out of every
 * list the heartbeat renews.
 */
public final class RunningJobs {

    private static final Logger LOG = Logger.getLogger(RunningJobs.class);

    /** A job running here: its claim, the handle that stops its call, and when its lease began. */
    public record Running(ClaimedJob job, CallControl control, Instant leaseStart) {
    }

    /** Told when an attempt ended here, for metrics. */
    public interface Listener {
        void ended(ClaimedJob job, Finished finished, Duration took);
    }

    private final Map<String, JobRunner> runners;
    private final Map<String, Integer> slots;
    private final AttemptTable table;
    private final Completer completer;
    private final Runnable slotFreed;
    private final Listener listener;
    private final Clock clock;
    private final Map<String, AtomicInteger> busy = new ConcurrentHashMap<>();
    private final Map<UUID, Running> running = new ConcurrentHashMap<>();
    /** The model of the last Ollama job that ended here: still loaded, most likely, until the next health check says. */
    private volatile String lastModel;
    private final ExecutorService threads = Executors.newCachedThreadPool(Threads.daemon("atelier-job"));

    /**
     * @param runners   the runner of each kind served (a kind with no runner, or 0 slots, is not served)
     * @param completer takes each attempt's outcome
     * @param slotFreed called after a slot is freed (the claim loop wakes)
     */
    public RunningJobs(Map<String, JobRunner> runners, Map<String, Integer> slots, AttemptTable table,
                       Completer completer, Runnable slotFreed, Listener listener, Clock clock) {
        this.runners = Map.copyOf(runners);
        this.slots = Map.copyOf(slots);
        this.table = table;
        this.completer = completer;
        this.slotFreed = slotFreed;
        this.listener = listener;
        this.clock = clock;
        runners.keySet().forEach(kind -> busy.put(kind, new AtomicInteger()));
    }

    /** Free slots per kind served, in a stable order. */
    public Map<String, Integer> free() {
        Map<String, Integer> free = new LinkedHashMap<>();
        runners.keySet().stream().sorted().forEach(kind -> free.put(kind, Math.max(0, slots.get(kind) - busy.get(kind).get())));
        return free;
    }

    /** Jobs running now, per kind served. */
    public Map<String, Integer> busy() {
        Map<String, Integer> now = new LinkedHashMap<>();
        runners.keySet().stream().sorted().forEach(kind -> now.put(kind, busy.get(kind).get()));
        return now;
    }

    public int count() {
        return running.size();
    }

    public List<Running> running() {
        return List.copyOf(running.values());
    }

    /** The leases of the jobs running here, each with when it began (or was last known renewed by the claim). */
    public Map<UUID, Instant> leases() {
        Map<UUID, Instant> leases = new LinkedHashMap<>();
        running.forEach((token, r) -> leases.put(token, r.leaseStart()));
        return leases;
    }

    /**
     * Starts a claimed job on a thread of its own.
     *
     * @param leaseStart when the claim that took it was sent: its lease cannot have begun earlier
     */
    public void start(ClaimedJob job, Instant leaseStart) {
        JobRunner runner = runners.get(job.kind());
        if (runner == null) {
            throw new IllegalStateException("claimed a " + job.kind() + " job, which this executor does not serve");
        }
        Running entry = new Running(job, new CallControl(), leaseStart);
        busy.get(job.kind()).incrementAndGet();
        running.put(job.leaseToken(), entry);
        try {
            threads.execute(() -> run(entry, runner));
        } catch (RuntimeException | Error e) { // no thread to run it on: its outcome says so, the slot comes back
            end(entry, new Finished.Outcome(new AttemptOutcome.Failure(job.id(), job.leaseToken(),
                    "executor error: could not start the job: " + e, true)), clock.instant());
        }
    }

    private void run(Running entry, JobRunner runner) {
        ClaimedJob job = entry.job();
        Instant started = clock.instant();
        Finished finished = null;
        try {
            finished = attempt(job, runner, entry.control());
        } catch (Throwable t) { // the mapping itself failed (out of memory, say): the plainest outcome there is
            finished = new Finished.Outcome(new AttemptOutcome.Failure(job.id(), job.leaseToken(),
                    "executor error: " + t.getClass().getName(), true));
        } finally {
            end(entry, finished, started);
        }
    }

    private Finished attempt(ClaimedJob job, JobRunner runner, CallControl control) {
        try {
            return table.succeeded(job, runner.run(job, control));
        } catch (Throwable t) {
            return table.failed(job, control, t);
        }
    }

    private void end(Running entry, Finished finished, Instant started) {
        ClaimedJob job = entry.job();
        try {
            completer.submit(finished, entry.leaseStart());
            listener.ended(job, finished, Duration.between(started, clock.instant()));
        } catch (RuntimeException e) {
            LOG.errorf(e, "job %s: recording its end failed", job.id());
        } finally {
            if (job.model() != null) {
                lastModel = job.model();
            }
            running.remove(job.leaseToken());
            busy.get(job.kind()).decrementAndGet();
            slotFreed.run();
        }
    }

    /** The Ollama models of the jobs running here and of the last one that ended: what its GPU most likely holds. */
    public Set<String> recentModels() {
        Set<String> models = new HashSet<>();
        running.values().forEach(r -> {
            if (r.job().model() != null) {
                models.add(r.job().model());
            }
        });
        String last = lastModel;
        if (last != null) {
            models.add(last);
        }
        return models;
    }

    /** Stops the call holding this lease, if it runs here. */
    public void stop(UUID leaseToken, CallControl.StopReason reason) {
        Running job = running.get(leaseToken);
        if (job != null) {
            job.control().stop(reason);
        }
    }

    /** Waits until nothing runs, at most {@code timeout}; true when nothing runs. */
    public boolean awaitIdle(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!running.isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        return running.isEmpty();
    }

    /** Interrupts whatever still runs; the threads are daemons and hold up nothing. */
    public void close() {
        threads.shutdownNow();
    }
}
