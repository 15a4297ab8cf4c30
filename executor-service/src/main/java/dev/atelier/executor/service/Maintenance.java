package dev.atelier.executor.service;

import dev.atelier.store.Artifacts;
import dev.atelier.store.BatchDeletion;
import dev.atelier.store.ExecutorRegistry;
import dev.atelier.store.ExportLog;
import dev.atelier.store.JobCounts;
import dev.atelier.store.QueueSweeps;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import org.jboss.logging.Logger;

/**
 * Cluster-wide upkeep that any executor may do, as named tasks: reaping expired leases, failing jobs whose model no
 * live executor offers, folding the job count deltas (which also settles the batches whose last job ended, so the
 * claim stops walking them), numbering new export lines, forgetting executors that vanished and idempotency keys
 * past their day, collecting blobs nothing uses, deleting batches and trimming export lines past their retention.
 * Its guarantee: each task runs every
 * round on its own, so one that fails (its table locked, a bug) does not stop the others; and reaping waits until
 * the database has answered for two leases, so leases that ran out while nobody could renew them are renewed by
 * their holders first.
 */
public final class Maintenance {

    private static final Logger LOG = Logger.getLogger(Maintenance.class);
    private static final int REAP_PAGE = 500;
    private static final int NUMBERING_ROUNDS = 10;

    /**
     * @param liveWindow  an executor is live when it reported within this window (the model sweep's judges)
     * @param forgetAfter an executor that has not reported for this long is removed, with its backends
     * @param keepBatches batches that finished longer ago are deleted (atelier.retention.batches); null keeps them
     * @param keepExportLines export lines older than this are trimmed (atelier.retention.export-lines); null keeps them
     */
    public record Settings(Duration modelGrace, Duration liveWindow, Duration forgetAfter, Duration keepBatches,
                           Duration keepExportLines) {
    }

    /** Told how many rows each removing task removed (a metric). */
    public interface Removals {
        void removed(String what, long rows);
    }

    /** How often an executor looks for blobs left behind, and how many it deletes at most each time. */
    static final Duration ORPHAN_SWEEP_EVERY = Duration.ofMinutes(10);
    static final int ORPHAN_SWEEP_LIMIT = 1_000;

    /** An object younger than this may belong to a store not committed yet: orphan collection leaves it. */
    static final Duration ORPHAN_OBJECT_AGE = Duration.ofHours(1);

    /** Blobs moved from PostgreSQL to the object store per round (a few MB each). */
    static final int MOVE_ROUND = 20;

    /** Batches one round of retention deletes at most, so that the other tasks are not held up behind a backlog. */
    static final int RETENTION_ROUND = 200;

    /** One named piece of upkeep. */
    public record Task(String name, Runnable work) {
    }

    private final List<Task> tasks;

    public Maintenance(List<Task> tasks) {
        this.tasks = List.copyOf(tasks);
    }

    /**
     * The standard tasks, in one round's order.
     *
     * @param databaseSettled whether the database has answered long enough for reaping to be fair
     */
    public static List<Task> standardTasks(QueueSweeps sweeps, JobCounts counts, ExportLog exports,
                                           ExecutorRegistry registry, BatchDeletion deletion, Artifacts artifacts,
                                           Settings settings,
                                           BooleanSupplier databaseSettled, Removals removals, Clock clock) {
        return List.of(
                new Task("reap expired leases", () -> {
                    // within two leases of an outage, leases that ran out unrenewed still have live holders
                    if (databaseSettled.getAsBoolean()) {
                        while (sweeps.reapExpired(REAP_PAGE, null).size() == REAP_PAGE) {
                            LOG.debug("reaped a full page of expired leases, reaping on");
                        }
                    }
                }),
                new Task("fail jobs whose model no executor offers", () ->
                        sweeps.sweepUnservableModels(settings.modelGrace(), settings.liveWindow(), null)),
                new Task("fold job count deltas and settle finished batches", counts::compact),
                new Task("number new export lines", () -> {
                    for (int round = 0; round < NUMBERING_ROUNDS
                            && exports.numberNewLinesUnlessBusy() >= ExportLog.NUMBERING_ROUND; round++) {
                        LOG.debug("numbered a full round of export lines, numbering on");
                    }
                }),
                new Task("forget executors that vanished", () -> {
                    int forgotten = registry.forgetVanished(settings.forgetAfter(), null);
                    removals.removed("executors", forgotten);
                    if (forgotten > 0) {
                        LOG.infof("forgot %d executor(s) silent for %s", forgotten, settings.forgetAfter());
                    }
                }),
                new Task("forget idempotency keys past their day", () -> removals.removed("idempotency_keys",
                        deletion.forgetIdempotencyKeys(BatchDeletion.IDEMPOTENCY_KEYS_KEPT, null))),
                new Task("collect blobs nothing uses", new Runnable() {
                    // a scan of every blob: rare, since deleting a batch collects its own at once
                    private Instant due = clock.instant();

                    @Override
                    public void run() {
                        if (!clock.instant().isBefore(due)) {
                            removals.removed("blobs", deletion.collectOrphanBlobs(ORPHAN_SWEEP_LIMIT));
                            removals.removed("objects", deletion.collectOrphanObjects(
                                    clock.instant().minus(ORPHAN_OBJECT_AGE), ORPHAN_SWEEP_LIMIT));
                            due = clock.instant().plus(ORPHAN_SWEEP_EVERY);
                        }
                    }
                }),
                new Task("move blobs to the object store", () -> {
                    int moved = artifacts.moveToObjectStore(MOVE_ROUND);
                    if (moved > 0) {
                        LOG.infof("moved %d blob(s) from PostgreSQL to the object store", moved);
                    }
                }),
                new Task("delete batches past retention", () -> {
                    if (settings.keepBatches() != null) {
                        int deleted = deletion.deleteExpired(settings.keepBatches(), RETENTION_ROUND, null);
                        removals.removed("batches", deleted);
                        if (deleted > 0) {
                            LOG.infof("deleted %d batch(es) finished more than %s ago", deleted, settings.keepBatches());
                        }
                    }
                }),
                new Task("trim export lines past retention", () -> {
                    if (settings.keepExportLines() != null) {
                        removals.removed("export_lines", exports.trimOlderThan(settings.keepExportLines(), null));
                    }
                }));
    }

    /**
     * One round of every task.
     *
     * @return the names of the tasks that failed this round
     */
    public List<String> runOnce() {
        List<String> failed = new ArrayList<>();
        for (Task task : tasks) {
            try {
                task.work().run();
            } catch (RuntimeException e) {
                failed.add(task.name());
                LOG.warnf("maintenance task '%s' failed, the others go on: %s", task.name(), e.getMessage());
            }
        }
        return failed;
    }
}
