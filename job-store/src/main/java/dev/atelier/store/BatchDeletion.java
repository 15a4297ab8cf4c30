package dev.atelier.store;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Instance;
import jakarta.inject.Inject;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import javax.sql.DataSource;
import org.jboss.logging.Logger;

/**
 * Removes what is no longer wanted (API.md, "Deleting"): a batch whose jobs have all ended, with its jobs, attempts,
 * counts and artifacts, and the blobs nothing points at any more; idempotency keys past their 24 hours. Export lines
 * stay: they are the ledger, and each carries what it shows (V14), so they read the same after their batch is gone.
 */
@ApplicationScoped
public class BatchDeletion {

    private static final Logger LOG = Logger.getLogger(BatchDeletion.class);

    /** How long an idempotency key is kept, whatever happens to its batch (API.md: at least 24 hours). */
    public static final Duration IDEMPOTENCY_KEYS_KEPT = Duration.ofHours(24);

    /** At most this many open jobs are named in a refusal. */
    public static final int OPEN_JOBS_NAMED = 20;

    private final DataSource dataSource;
    private final BlobStorage storage;

    @Inject
    public BatchDeletion(DataSource dataSource, Instance<ObjectStore> objectStore) {
        this(dataSource, new BlobStorage(objectStore.isResolvable() ? objectStore.get() : null));
    }

    public BatchDeletion(DataSource dataSource) {
        this(dataSource, BlobStorage.inPostgres());
    }

    /** Collecting blobs through {@code storage}: the one the service's Artifacts stores with. */
    public BatchDeletion(DataSource dataSource, BlobStorage storage) {
        this.dataSource = dataSource;
        this.storage = storage;
    }

    /** What a deletion did. */
    public sealed interface Outcome {
    }

    /** No such batch (never stored, or deleted already). */
    public record NotFound() implements Outcome {
    }

    /** Nothing was deleted: these jobs have not ended ({@code open} in all, the first ones by position named). */
    public record StillOpen(List<String> keys, long open) implements Outcome {
    }

    /** The batch and its jobs are gone. */
    public record Deleted(long jobs, long artifacts) implements Outcome {
    }

    // The batch row first, then every job row in id order (the order outcome statements lock in): nothing can reopen a
    // job (a retry by hand, a reaped lease going to retry) between the check and the delete.
    private static final String LOCK_BATCH = """
            select id from batch where id = ? for update
            """;

    private static final String OPEN_JOBS = """
            with locked as materialized (
                select j.id, j.key, j.position, j.state from job j where j.batch_id = ? order by j.id for update of j)
            select key, count(*) over () as open from locked
            where state in ('pending', 'running', 'retry')
            order by position
            limit ?
            """;

    // Attempts have no foreign key to their job (they are written on the claim's hot path), and count deltas not yet
    // folded would name a batch that no longer exists; both go here. The batch's rows in job, job_count, batch_turn
    // and artifact go with it (on delete cascade). Returns the blobs its artifacts used, for collect(...).
    private static final String DELETE_BATCH = """
            with doomed as materialized (select id from job where batch_id = ?),
            used_blobs as materialized (
                select distinct a.sha256 from artifact a join doomed d on d.id = a.job_id),
            artifacts as materialized (
                select count(*) as n from artifact a join doomed d on d.id = a.job_id),
            attempts as (delete from attempt a using doomed d where a.job_id = d.id),
            deltas as (delete from job_count_delta where batch_id = ?),
            batch as (delete from batch where id = ? returning id)
            select (select count(*) from doomed) as jobs, (select n from artifacts) as artifacts,
                   array(select sha256 from used_blobs order by sha256) as blobs
            from batch
            """;

    /** What one deletion did inside its transaction, and the blobs to collect once it has committed. */
    private record Removed(Outcome outcome, String[] blobs) {
    }

    /** Deletes a batch whose jobs have all ended, in one transaction; then collects the blobs it alone used. */
    public Outcome delete(UUID batchId) {
        Removed removed = Transactions.inTransaction(dataSource, "delete batch", c -> deleteIn(c, batchId));
        collectAfterCommit(removed.blobs(), "batch " + batchId);
        return removed.outcome();
    }

    private static Removed deleteIn(Connection c, UUID batchId) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(LOCK_BATCH)) {
            ps.setObject(1, batchId);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return new Removed(new NotFound(), new String[0]);
                }
            }
        }
        try (PreparedStatement ps = c.prepareStatement(OPEN_JOBS)) {
            ps.setObject(1, batchId);
            ps.setInt(2, OPEN_JOBS_NAMED);
            List<String> keys = new ArrayList<>();
            long open = 0;
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    keys.add(rs.getString("key"));
                    open = rs.getLong("open");
                }
            }
            if (open > 0) {
                return new Removed(new StillOpen(List.copyOf(keys), open), new String[0]);
            }
        }
        try (PreparedStatement ps = c.prepareStatement(DELETE_BATCH)) {
            ps.setObject(1, batchId);
            ps.setObject(2, batchId);
            ps.setObject(3, batchId);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return new Removed(new Deleted(rs.getLong("jobs"), rs.getLong("artifacts")),
                        (String[]) rs.getArray("blobs").getArray());
            }
        }
    }

    private void collectAfterCommit(String[] blobs, String of) {
        if (blobs.length > 0) {
            try {
                collectBlobs(blobs);
            } catch (StoreException e) {
                LOG.warnf("blobs of %s stay until the next collection: %s", of, e.getMessage());
            }
        }
    }

    // One retention run at a time across executors; each small transaction takes the lock again, so a run that
    // stops (its executor leaves) frees it at once.
    private static final String RETENTION_LOCK = """
            select pg_try_advisory_xact_lock(hashtext('atelier.retention.batches'))
            """;

    // The batches that finished longest ago first, except those a person asked to keep. A batch reopened by a retry
    // by hand still carries finished_at until the next compaction; deleteIn's check leaves it alone.
    private static final String EXPIRED_BATCHES = """
            select b.id from batch b
            where b.finished_at < coalesce(?::timestamptz, now()) - make_interval(secs => ?)
              and not b.labels @> '{"keep": "true"}'
            order by b.finished_at
            limit ?
            """;

    /** Batches per transaction: each holds its rows' locks only briefly, so claims and intake never wait long. */
    public static final int RETENTION_BATCHES_PER_TRANSACTION = 10;

    /**
     * Deletes the batches that finished more than {@code keptFor} ago (atelier.retention.batches), except those
     * labelled {@code keep=true}, a few per transaction, up to {@code atMost}. Another executor running it meanwhile
     * makes this one stop.
     *
     * @return how many batches were deleted
     */
    public int deleteExpired(Duration keptFor, int atMost, Instant now) {
        int deleted = 0;
        while (deleted < atMost) {
            int room = Math.min(RETENTION_BATCHES_PER_TRANSACTION, atMost - deleted);
            List<Removed> round = Transactions.inTransaction(dataSource, "delete expired batches", c -> {
                try (PreparedStatement lock = c.prepareStatement(RETENTION_LOCK); ResultSet held = lock.executeQuery()) {
                    held.next();
                    if (!held.getBoolean(1)) {
                        return List.<Removed>of();
                    }
                }
                List<UUID> expired = new ArrayList<>();
                try (PreparedStatement ps = c.prepareStatement(EXPIRED_BATCHES)) {
                    Transactions.setTime(ps, 1, now);
                    ps.setDouble(2, keptFor.toMillis() / 1000.0);
                    ps.setInt(3, room);
                    try (ResultSet rs = ps.executeQuery()) {
                        while (rs.next()) {
                            expired.add(rs.getObject("id", UUID.class));
                        }
                    }
                }
                List<Removed> removed = new ArrayList<>();
                for (UUID id : expired) {
                    removed.add(deleteIn(c, id));
                }
                return removed;
            });
            long done = round.stream().filter(r -> r.outcome() instanceof Deleted).count();
            round.forEach(r -> collectAfterCommit(r.blobs(), "expired batches"));
            deleted += (int) done;
            if (done == 0) {
                break; // nothing (more) to delete, another executor is at it, or only reopened batches are left
            }
        }
        return deleted;
    }

    private int collectBlobs(String[] sha256s) {
        return Transactions.inTransaction(dataSource, "collect blobs", c -> storage.collect(c, sha256s));
    }

    // Blobs left behind when the collection after a deletion failed (a writer storing the same bytes meanwhile).
    /**
     * Deletes objects in the object store that no row names and that were written before {@code before} (left by
     * stores that rolled back); looks at up to {@code limit} objects per kind and call.
     *
     * @return how many were deleted
     */
    public int collectOrphanObjects(Instant before, int limit) {
        return storage.collectOrphanObjects(dataSource, before, limit);
    }

    /** Deletes up to {@code limit} blobs that no artifact uses; returns how many. */
    public int collectOrphanBlobs(int limit) {
        return Transactions.inTransaction(dataSource, "collect orphan blobs", c -> storage.collectOrphans(c, limit));
    }

    private static final String FORGET_IDEMPOTENCY_KEYS = """
            delete from idempotency_key
            where created_at < coalesce(?::timestamptz, now()) - make_interval(secs => ?)
            """;

    /**
     * Forgets idempotency keys older than {@code keptFor} (API.md: at least 24 hours); a submit with such a key
     * stores a new batch.
     *
     * @return how many were forgotten
     */
    public int forgetIdempotencyKeys(Duration keptFor, Instant now) {
        return Transactions.inTransaction(dataSource, "forget idempotency keys", c -> {
            try (PreparedStatement ps = c.prepareStatement(FORGET_IDEMPOTENCY_KEYS)) {
                Transactions.setTime(ps, 1, now);
                ps.setDouble(2, keptFor.toMillis() / 1000.0);
                return ps.executeUpdate();
            }
        });
    }
}
