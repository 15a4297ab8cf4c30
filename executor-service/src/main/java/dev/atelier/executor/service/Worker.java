package dev.atelier.executor.service;

import dev.atelier.executor.backend.BackendState;
import dev.atelier.executor.config.ExecutorConfig;
import dev.atelier.store.AttemptOutcome;
import dev.atelier.store.ClaimedJob;
import dev.atelier.store.ExecutorRegistry;
import dev.atelier.store.ExportLog;
import dev.atelier.executor.kubernetes.PodDeletionCost;
import dev.atelier.store.JobCounts;
import dev.atelier.store.JobQueue;
import dev.atelier.store.QueueSignals;
import dev.atelier.store.StoreException;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.quarkus.scheduler.Scheduled;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.inject.Instance;
import jakarta.inject.Inject;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.sql.DataSource;
import org.jboss.logging.Logger;

/**
 * The executor's work (DESIGN.md, executor-service): a claim loop that takes as many jobs as there are free slots,
 * per backend kind, only for backends that can take them; a thread per running job; heartbeats that renew the
 * leases and carry cancel requests back; and a graceful stop that hands unfinished jobs back.
 * <p>
 * The claim loop wakes on NOTIFY (a listener thread), when a slot frees up, and otherwise polls with jitter.
 */
@ApplicationScoped
public class Worker {

    private static final Logger LOG = Logger.getLogger(Worker.class);

    /** A job this executor is running, and the handle to stop it. */
    record Running(ClaimedJob job, CallControl control) {
    }

    @Inject
    DataSource dataSource;

    @Inject
    Backends backends;

    @Inject
    Instance<JobRunner> runnerBeans;

    @Inject
    ExecutorConfig config;

    @Inject
    MeterRegistry meters;

    @Inject
    BackendMonitor monitor;

    private JobQueue queue;
    private ExecutorRegistry registry;
    private JobCounts counts;
    private ExportLog exports;
    private PodDeletionCost deletionCost;
    /**
     * Runs the deletion-cost patches off the heartbeat, which holds the worker's lock: a slow API server must never
     * hold back lease renewal. One patch at a time; of those waiting, only the newest is kept.
     */
    private final ThreadPoolExecutor podPatches = new ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS,
            new ArrayBlockingQueue<>(1), daemonThreads("atelier-pod-patch"), new ThreadPoolExecutor.DiscardOldestPolicy());
    private final Map<String, JobRunner> runners = new LinkedHashMap<>();
    private final Map<String, AtomicInteger> busy = new ConcurrentHashMap<>();
    private final Map<UUID, Running> running = new ConcurrentHashMap<>();
    private final Semaphore wakeUps = new Semaphore(0);
    private ExecutorService jobThreads;
    private Completer completer;
    private Claimer claimer;
    private Thread claimThread;
    private Thread listenThread;
    private volatile boolean claiming;
    /** From start until the executor has stopped: heartbeats (which keep running jobs' leases) and reaping run. */
    private volatile boolean live;
    private boolean drained;
    /** Drains one at a time; not the worker's own lock, which heartbeats take while a drain waits. */
    private final Object drainLock = new Object();
    private volatile Instant lastLoopAt = Instant.now();
    /** Set when a heartbeat could not reach the database; cleared, with the time, by the next one that did. */
    private volatile boolean databaseLost;
    private volatile Instant databaseBackAt = Instant.EPOCH;

    void onStart(@Observes StartupEvent event) {
        queue = new JobQueue(dataSource);
        registry = new ExecutorRegistry(dataSource);
        counts = new JobCounts(dataSource);
        exports = new ExportLog(dataSource);
        if (config.podName().isPresent() && config.podNamespace().isPresent()) {
            deletionCost = PodDeletionCost.inCluster(config.podNamespace().get(), config.podName().get());
        }
        for (JobRunner runner : runnerBeans) {
            if (backends.slots().getOrDefault(runner.kind(), 0) > 0) {
                runners.put(runner.kind(), runner);
                busy.put(runner.kind(), new AtomicInteger());
                // suppliers: Micrometer holds them strongly (an object given to gauge() is only weakly held)
                String kind = runner.kind();
                Tags tags = Tags.of("kind", kind);
                Gauge.builder("atelier.slots", () -> backends.slots().get(kind)).tags(tags).register(meters);
                Gauge.builder("atelier.slots.busy", () -> busy.get(kind).get()).tags(tags).register(meters);
                // 2 online, 1 degraded, 0 offline
                Gauge.builder("atelier.backend.status", () -> 2 - backends.state(kind).snapshot().status().ordinal())
                        .tags(tags).register(meters);
            }
        }
        monitor.checkAll();
        report();
        jobThreads = Executors.newCachedThreadPool(daemonThreads("atelier-job"));
        completer = new Completer(queue, this::wake);
        completer.start();
        claimer = new Claimer(queue, backends.executorId());
        claiming = true;
        live = true;
        claimThread = daemonThreads("atelier-claim").newThread(this::claimLoop);
        listenThread = daemonThreads("atelier-listen").newThread(this::listenLoop);
        claimThread.start();
        listenThread.start();
        LOG.infof("executor %s serving %s", backends.executorId(), runners.keySet());
    }

    /** Wakes the claim loop: new work, a freed slot, a backend back online. */
    public void wake() {
        wakeUps.release();
    }

    private void claimLoop() {
        while (claiming) {
            lastLoopAt = Instant.now();
            try {
                claimOnce();
                long jitteredPoll = (long) (config.poll().toMillis() * (0.75 + ThreadLocalRandom.current().nextDouble() * 0.5));
                if (wakeUps.tryAcquire(jitteredPoll, TimeUnit.MILLISECONDS)) {
                    wakeUps.drainPermits();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (StoreException e) {
                LOG.warnf("claim failed, polling again: %s", e.getMessage());
                sleep(config.poll());
            } catch (RuntimeException e) {
                LOG.errorf(e, "claim loop error");
                sleep(config.poll());
            }
        }
    }

    /** Claims for every free slot of a backend that can take work, and starts the jobs. Returns how many. */
    public int claimOnce() {
        claimer.handBackUnconfirmed();
        Instant now = Instant.now();
        Map<String, Integer> free = new LinkedHashMap<>();
        runners.keySet().forEach(kind -> {
            int open = backends.slots().get(kind) - busy.get(kind).get();
            if (open > 0 && backends.state(kind).snapshot().claimable(now)) {
                free.put(kind, open);
            }
        });
        if (free.isEmpty() || !claiming) {
            return 0;
        }
        Set<String> models = backends.state("ollama").snapshot().models();
        List<ClaimedJob> jobs = claimer.claim(free, models, config.lease());
        jobs.forEach(this::start);
        return jobs.size();
    }

    private void start(ClaimedJob job) {
        JobRunner runner = runners.get(job.kind());
        busy.get(job.kind()).incrementAndGet();
        CallControl control = new CallControl();
        running.put(job.leaseToken(), new Running(job, control));
        jobThreads.execute(() -> {
            Timer.Sample sample = Timer.start(meters);
            Finished finished;
            try {
                finished = runner.run(job, control);
            } catch (RuntimeException e) {
                LOG.errorf(e, "job %s: runner failed", job.id());
                finished = new Finished.Outcome(new AttemptOutcome.Failure(job.id(), job.leaseToken(),
                        "executor error: " + e, true));
            }
            sample.stop(meters.timer("atelier.attempt.duration", "kind", job.kind(), "outcome", outcomeName(finished)));
            if (finished instanceof Finished.Outcome o && o.outcome() instanceof AttemptOutcome.HandBack back) {
                LOG.infof("job %s handed back: %s", job.id(), back.reason());
            }
            running.remove(job.leaseToken());
            busy.get(job.kind()).decrementAndGet();
            completer.submit(finished);
            wake();
        });
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

    // ---------------------------------------------------------------- NOTIFY

    private void listenLoop() {
        while (claiming) {
            try (QueueSignals signals = QueueSignals.open(dataSource)) {
                while (claiming) {
                    List<QueueSignals.Signal> received = signals.await(config.poll());
                    if (received.stream().anyMatch(s -> JobQueue.CANCEL_CHANNEL.equals(s.channel()))) {
                        heartbeat(); // its answer carries the cancel requests for our leases
                    }
                    if (received.stream().anyMatch(s -> JobQueue.WORK_CHANNEL.equals(s.channel()))) {
                        wake();
                    }
                }
            } catch (StoreException e) {
                LOG.debugf("listening failed, polling meanwhile: %s", e.getMessage());
                sleep(config.poll());
            }
        }
    }

    // ---------------------------------------------------------------- periodic work

    /**
     * Renews the leases of the running jobs, stops those whose lease is lost or whose cancel was requested, and
     * reports this executor (slots, busy counts, backends and models).
     */
    @Scheduled(every = "${atelier.executor.heartbeat}", concurrentExecution = Scheduled.ConcurrentExecution.SKIP,
            skipExecutionIf = NotStarted.class)
    synchronized void heartbeat() {
        try {
            // every lease this executor may hold: running jobs, outcomes waiting to be stored, unconfirmed claims
            Set<UUID> held = new HashSet<>(running.keySet());
            held.addAll(completer.waitingLeases());
            held.addAll(claimer.unconfirmed());
            JobQueue.Heartbeat beat = queue.heartbeat(held, config.lease(), null);
            beat.lost().forEach(token -> stop(token, CallControl.StopReason.LEASE_LOST));
            beat.cancelRequested().forEach(token -> stop(token, CallControl.StopReason.CANCEL));
            report();
            if (databaseLost) {
                databaseBackAt = Instant.now();
                databaseLost = false;
                LOG.info("the database is back; leases renewed");
            }
        } catch (StoreException e) {
            databaseLost = true;
            LOG.warnf("heartbeat failed: %s", e.getMessage());
        }
    }

    private void stop(UUID leaseToken, CallControl.StopReason reason) {
        Running job = running.get(leaseToken);
        if (job != null) {
            job.control().stop(reason);
        }
    }

    void report() {
        List<ExecutorRegistry.BackendReport> reports = new ArrayList<>();
        for (String kind : runners.keySet()) {
            BackendState state = backends.state(kind);
            BackendState.Snapshot s = state.snapshot();
            reports.add(new ExecutorRegistry.BackendReport(kind, state.url(), s.status().wire(), s.models(),
                    s.checkedAt(), s.detail()));
        }
        registry.report(backends.executorId(), backends.slots(), busy(), reports, null);
        if (deletionCost != null) {
            int runningNow = running.size();
            podPatches.execute(() -> deletionCost.update(runningNow)); // idle pods go first when executors scale in
        }
    }

    /**
     * Takes back the jobs of executors that died or hung, fails jobs whose model nobody offers, folds the job count
     * deltas (one executor at a time does; the others skip), and numbers new export lines.
     */
    @Scheduled(every = "${atelier.executor.reap-interval}", concurrentExecution = Scheduled.ConcurrentExecution.SKIP,
            skipExecutionIf = NotStarted.class)
    void reap() {
        if (databaseLost || Instant.now().isBefore(databaseBackAt.plus(config.lease().multipliedBy(2)))) {
            // Leases ran out while no executor could renew them. Every live executor's heartbeat renews its own
            // soon after the database comes back, but each sees it back on its own schedule: a call that was
            // already failing must fail first, and the pool retries its connections in its own time. Reaping
            // within two leases of seeing it back would spend attempts of jobs that are running fine. An outage
            // shorter than a heartbeat expires no lease at all.
            return;
        }
        try {
            int page = 500;
            while (queue.reapExpired(page, null).size() == page) {
                LOG.debug("reaped a full page of expired leases, reaping on");
            }
            queue.sweepUnservableModels(config.modelGrace(), config.lease().multipliedBy(2), null);
            counts.compact();
            for (int round = 0; round < 10 && exports.numberNewLines() >= ExportLog.NUMBERING_ROUND; round++) {
                LOG.debug("numbered a full round of export lines, numbering on");
            }
        } catch (StoreException e) {
            LOG.warnf("reaping failed: %s", e.getMessage());
        }
    }

    // ---------------------------------------------------------------- health and shutdown

    /**
     * Whether the executor's loops are healthy: the claim loop went round recently and the completer runs. While it
     * drains (no more claims) only the completer counts, so a long drain is not mistaken for a hang.
     */
    public boolean loopsAlive() {
        if (!claiming) {
            return completer.alive();
        }
        Duration sinceLoop = Duration.between(lastLoopAt, Instant.now());
        return claimThread != null && claimThread.isAlive() && completer.alive()
                && sinceLoop.compareTo(config.poll().multipliedBy(3).plusSeconds(30)) < 0;
    }

    /** True from startup until the executor has stopped. */
    public boolean started() {
        return live;
    }

    public boolean claiming() {
        return claiming && claimThread != null && claimThread.isAlive();
    }

    /** Jobs running now, per kind. */
    public Map<String, Integer> busy() {
        Map<String, Integer> now = new LinkedHashMap<>();
        busy.forEach((kind, count) -> now.put(kind, count.get()));
        return now;
    }

    /**
     * Stops claiming, lets running jobs finish within the shutdown grace (heartbeats keep their leases meanwhile),
     * and hands the rest back without spending an attempt. Kubernetes calls it before stopping the pod (preStop,
     * GET /drain) so a scale-in waits for long jobs; stopping calls it too. Safe to call more than once.
     *
     * @return the jobs handed back
     */
    public int drain() throws InterruptedException {
        synchronized (drainLock) {
            return drainOnce();
        }
    }

    private int drainOnce() throws InterruptedException {
        if (drained) {
            return 0;
        }
        claiming = false;
        wake();
        listenThread.interrupt();
        claimThread.join(10_000); // a claim in flight still registers its jobs before we count them
        long deadline = System.nanoTime() + config.shutdownGrace().toNanos();
        while (!running.isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        int handedBack = running.size();
        if (handedBack > 0) {
            LOG.infof("handing back %d unfinished jobs", handedBack);
            running.values().forEach(job -> job.control().stop(CallControl.StopReason.SHUTDOWN));
            long handBackDeadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
            while (!running.isEmpty() && System.nanoTime() < handBackDeadline) {
                Thread.sleep(20);
            }
        }
        drained = true;
        return handedBack;
    }

    /** Drains, stores every outcome, and leaves the registry. */
    void onStop(@Observes ShutdownEvent event) throws InterruptedException {
        if (!live) {
            return;
        }
        drain();
        completer.drainAndStop(Duration.ofSeconds(10));
        try {
            claimer.handBackUnconfirmed();
        } catch (StoreException e) {
            LOG.warnf("could not hand back an unconfirmed claim (its leases will expire): %s", e.getMessage());
        }
        jobThreads.shutdownNow();
        synchronized (this) {
            live = false; // after any heartbeat in flight, so none reports this executor again after it leaves
        }
        podPatches.shutdownNow();
        try {
            registry.remove(backends.executorId());
        } catch (StoreException e) {
            LOG.warnf("could not leave the registry: %s", e.getMessage());
        }
    }

    /** Skips scheduled work until the worker has started (and after it stopped). */
    @ApplicationScoped
    public static class NotStarted implements Scheduled.SkipPredicate {
        @Inject
        Worker worker;

        @Override
        public boolean test(io.quarkus.scheduler.ScheduledExecution execution) {
            return !worker.started();
        }
    }

    private static java.util.concurrent.ThreadFactory daemonThreads(String name) {
        AtomicInteger n = new AtomicInteger();
        return runnable -> {
            Thread thread = new Thread(runnable, name + "-" + n.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        };
    }

    private static void sleep(Duration duration) {
        try {
            Thread.sleep(duration.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
