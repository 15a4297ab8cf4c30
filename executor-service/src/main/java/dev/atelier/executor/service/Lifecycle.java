package dev.atelier.executor.service;

import dev.atelier.executor.config.ExecutorConfig;
import dev.atelier.executor.config.RetentionConfig;
import dev.atelier.store.AttemptOutcome;
import dev.atelier.store.AttemptOutcomes;
import dev.atelier.store.Artifacts;
import dev.atelier.store.BatchDeletion;
import dev.atelier.store.BlobStorage;
import dev.atelier.store.ExecutorRegistry;
import dev.atelier.store.ExportLog;
import dev.atelier.store.JobClaims;
import dev.atelier.store.JobCounts;
import dev.atelier.store.QueueSweeps;
import dev.atelier.store.StoreException;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.jboss.logging.Logger;

/**
 * Starts, drains and stops one executor's loops. Its guarantee: a graceful stop never spends an attempt. Claiming
 * stops first; running jobs get the shutdown grace to finish while heartbeats keep their leases; then every lease
 * still held is handed back at once (fenced, so a runner that ends later changes nothing), heartbeats go on until
 * every outcome is stored, and only then does the executor leave.
 *
 * <p>Built from plain parts ({@link #assemble}), so tests and a fleet bench can run many executors in one JVM.
 */
public final class Lifecycle {

    private static final Logger LOG = Logger.getLogger(Lifecycle.class);
    static final String SHUTDOWN_REASON = "executor shutting down";

    /** The settings every loop takes its slice of (ExecutorConfig's). */
    public record Settings(Duration lease, Duration heartbeat, Duration poll, Duration maintenanceInterval,
                           Duration modelGrace, Duration shutdownGrace, Duration maxAffinityWait,
                           Duration forgetAfter, Duration keepBatches, Duration keepExportLines) {
        public static Settings from(ExecutorConfig config, RetentionConfig retention) {
            // a live executor reports within two leases; forgetting one sooner would drop it from the registry
            if (config.forgetAfter().compareTo(config.lease().multipliedBy(2)) < 0) {
                throw new IllegalStateException("atelier.executor.forget-after is " + config.forgetAfter()
                        + "; it must be at least two leases (" + config.lease().multipliedBy(2) + ")");
            }
            return new Settings(config.lease(), config.heartbeat(), config.poll(), config.reapInterval(),
                    config.modelGrace(), config.shutdownGrace(), config.maxAffinityWait(), config.forgetAfter(),
                    atLeastADay("atelier.retention.batches", retention.batches().orElse(null)),
                    atLeastADay("atelier.retention.export-lines", retention.exportLines().orElse(null)));
        }

        private static Duration atLeastADay(String key, Duration keep) {
            if (keep != null && keep.compareTo(Duration.ofDays(1)) < 0) {
                throw new IllegalStateException(key + " is " + keep
                        + "; it must be at least a day (P1D), or unset to keep everything until it is deleted");
            }
            return keep;
        }
    }

    private final RunningJobs running;
    private final ClaimLoop claims;
    private final Completer completer;
    private final LeaseKeeper leases;
    private final Maintenance maintenance;
    private final Settings settings;
    private final Runnable afterHeartbeat;
    private final Runnable leave;
    private final ScheduledExecutorService heartbeats = Executors.newSingleThreadScheduledExecutor(Threads.daemon("atelier-heartbeat"));
    private final ScheduledExecutorService upkeep = Executors.newSingleThreadScheduledExecutor(Threads.daemon("atelier-maintenance"));
    private final Object drainLock = new Object();
    private boolean drained;
    private volatile boolean draining;
    private volatile boolean started;
    private volatile boolean stopped;

    /**
     * @param afterHeartbeat run after each heartbeat (the pod's deletion cost)
     * @param leave          run last, once every outcome is stored (leaving the registry)
     */
    public Lifecycle(Parts parts, Settings settings, Runnable afterHeartbeat, Runnable leave) {
        this.running = parts.running();
        this.claims = parts.claims();
        this.completer = parts.completer();
        this.leases = parts.leases();
        this.maintenance = parts.maintenance();
        this.settings = settings;
        this.afterHeartbeat = afterHeartbeat;
        this.leave = leave;
    }

    /** The parts one executor needs, wired together. */
    public record Parts(RunningJobs running, ClaimLoop claims, Completer completer, LeaseKeeper leases,
                        Maintenance maintenance) {
    }

    /**
     * Wires an executor's loops.
     *
     * @param pool            the connection pool: claims, outcomes, the report, maintenance
     * @param heartbeatSource the heartbeat's own connection
     * @param listenSource    where to LISTEN: one connection held while listening, a session PostgreSQL keeps
     * @param listener        told when an attempt ends (metrics)
     * @param claimed         told how each claim went (metrics)
     * @param blobs           where artifact bytes are kept (the service's Artifacts'), for collection and moving
     */
    public static Parts assemble(DataSource pool, DataSource heartbeatSource, DataSource listenSource,
                                 Backends backends, Map<String, JobRunner> runners, AttemptTable table,
                                 Settings settings, Clock clock,
                                 RunningJobs.Listener listener, ClaimLoop.Listener claimed,
                                 Maintenance.Removals removals, BlobStorage blobs) {
        ClaimLoop[] claims = new ClaimLoop[1];
        LeaseKeeper[] leases = new LeaseKeeper[1];
        Completer completer = new Completer(new AttemptOutcomes(pool), Completer.Settings.forLease(settings.lease()), clock,
                opened -> claims[0].outcomesStored(opened));
        RunningJobs running = new RunningJobs(runners, backends.slots(), table, completer, () -> claims[0].slotFreed(),
                listener, clock);
        claims[0] = new ClaimLoop(new JobClaims(pool), listenSource, running, backends,
                new ClaimLoop.Settings(settings.lease(), settings.poll(), settings.maxAffinityWait()), clock,
                () -> leases[0].runOnce(), claimed);
        leases[0] = new LeaseKeeper(new AttemptOutcomes(heartbeatSource), new ExecutorRegistry(pool), backends, running,
                completer, claims[0], new LeaseKeeper.Settings(settings.lease()), clock);
        Maintenance maintenance = new Maintenance(Maintenance.standardTasks(new QueueSweeps(pool), new JobCounts(pool),
                new ExportLog(pool), new ExecutorRegistry(pool), new BatchDeletion(pool, blobs), new Artifacts(pool, blobs),
                new Maintenance.Settings(settings.modelGrace(), settings.lease().multipliedBy(2), settings.forgetAfter(),
                        settings.keepBatches(), settings.keepExportLines()),
                () -> leases[0].answeringFor(settings.lease().multipliedBy(2)), removals, clock));
        return new Parts(running, claims[0], completer, leases[0], maintenance);
    }

    /** Whether its claim loop LISTENs for new work ({@link ClaimLoop#listening()}). */
    public boolean listening() {
        return claims.listening();
    }

    public void start() {
        completer.start();
        heartbeat(); // report at once, so the executor counts as live before it claims
        heartbeats.scheduleWithFixedDelay(this::heartbeat, settings.heartbeat().toMillis(),
                settings.heartbeat().toMillis(), TimeUnit.MILLISECONDS);
        upkeep.scheduleWithFixedDelay(this::maintain, settings.maintenanceInterval().toMillis(),
                settings.maintenanceInterval().toMillis(), TimeUnit.MILLISECONDS);
        claims.start();
        started = true;
    }

    private void heartbeat() {
        try {
            leases.runOnce();
            afterHeartbeat.run();
        } catch (RuntimeException e) { // a scheduled task that throws is never run again
            LOG.errorf(e, "heartbeat failed");
        }
    }

    private void maintain() {
        try {
            maintenance.runOnce();
        } catch (RuntimeException e) {
            LOG.errorf(e, "maintenance failed");
        }
    }

    /**
     * Stops claiming, lets running jobs finish within the shutdown grace (heartbeats keep their leases meanwhile),
     * and hands back the rest without spending an attempt. Kubernetes calls it before stopping the pod (preStop,
     * {@code GET /drain}) so a scale-in waits for long jobs; stopping calls it too. Safe to call more than once.
     *
     * @return how many jobs were handed back
     */
    public int drain() throws InterruptedException {
        synchronized (drainLock) {
            if (drained) {
                return 0;
            }
            draining = true;
            claims.stop();
            running.awaitIdle(settings.shutdownGrace());
            List<RunningJobs.Running> left = running.running();
            if (!left.isEmpty()) {
                LOG.infof("handing back %d unfinished jobs", left.size());
                for (RunningJobs.Running job : left) {
                    // at once, not when the runner returns: it may never; its late outcome is fenced off
                    completer.submit(new Finished.Outcome(new AttemptOutcome.HandBack(job.job().id(),
                            job.job().leaseToken(), SHUTDOWN_REASON)), job.leaseStart());
                    job.control().stop(CallControl.StopReason.SHUTDOWN);
                }
            }
            drained = true;
            return left.size();
        }
    }

    /** Drains, stores every outcome while heartbeats keep their leases, then leaves the registry. */
    public void stop() throws InterruptedException {
        if (!started || stopped) {
            return;
        }
        drain();
        completer.drainAndStop(Duration.ofSeconds(10));
        try {
            claims.handBackUnconfirmed();
        } catch (StoreException e) {
            LOG.warnf("could not hand back an unconfirmed claim (its leases will expire): %s", e.getMessage());
        }
        heartbeats.shutdown();
        heartbeats.awaitTermination(5, TimeUnit.SECONDS); // a heartbeat in flight ends before the executor leaves
        upkeep.shutdownNow();
        running.close();
        stopped = true;
        try {
            leave.run();
        } catch (StoreException e) {
            LOG.warnf("could not leave the registry: %s", e.getMessage());
        }
    }

    /**
     * Liveness: the loops run (the claim loop until a drain stops it, the completer always) and the executor is not
     * fenced. A database outage keeps it live; a heartbeat connection that fails alone does not.
     */
    public boolean live() {
        if (!started || stopped) {
            return false;
        }
        boolean claimLoopOk = claims.alive() || draining;
        return claimLoopOk && completer.alive() && !leases.fenced();
    }

    /** Readiness: claiming. */
    public boolean claiming() {
        return started && claims.claiming();
    }

    public Map<String, Integer> busy() {
        return running.busy();
    }
}
