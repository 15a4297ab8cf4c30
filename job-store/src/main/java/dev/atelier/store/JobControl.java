package dev.atelier.store;

import static dev.atelier.store.Rows.*;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import javax.sql.DataSource;

/**
 * What users do to jobs through the gateway: cancel a batch or a job, retry a job or a batch's failed jobs.
 */
@ApplicationScoped
public class JobControl {

    private final DataSource dataSource;

    @Inject
    public JobControl(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    /** What a cancel did. {@code found} is false for an unknown id. */
    public record Cancel(boolean found, int cancelled, int cancelRequested) {
    }

    // Pending and retry jobs end at once; running ones are asked to stop (the executor holding the lease aborts).
    private static final String CANCEL_BATCH_JOBS = """
            with clock as materialized (select coalesce(?::timestamptz, now()) as now),
            target as materialized (
                select j.id from job j
                where j.batch_id = ? and j.state in ('pending', 'retry', 'running')
                order by j.id
                for update of j)
            update job j
            set state = case when j.state = 'running' then 'running' else 'cancelled' end,
                finished_at = case when j.state = 'running' then null else clock.now end,
                cancel_requested_at = case when j.state = 'running' then coalesce(j.cancel_requested_at, clock.now) end,
                waiting_reason = null
            from target t, clock
            where j.id = t.id
            returning j.id, j.state
            """;

    private static final String CANCEL_ONE_JOB = """
            with clock as materialized (select coalesce(?::timestamptz, now()) as now),
            target as materialized (
                select j.id from job j
                where j.id = ? and j.state in ('pending', 'retry', 'running')
                order by j.id
                for update of j)
            update job j
            set state = case when j.state = 'running' then 'running' else 'cancelled' end,
                finished_at = case when j.state = 'running' then null else clock.now end,
                cancel_requested_at = case when j.state = 'running' then coalesce(j.cancel_requested_at, clock.now) end,
                waiting_reason = null
            from target t, clock
            where j.id = t.id
            returning j.id, j.state
            """;

    private static final String NOTIFY_CANCEL = """
            select pg_notify(?, id::text) from unnest(?::uuid[]) as id
            """;

    // a batch that had already finished is cancelled from now on (API.md: a cancelled batch's state is cancelled)
    private static final String MARK_BATCH_CANCELLED = """
            update batch
            set cancelled_at = coalesce(cancelled_at, coalesce(?::timestamptz, now())),
                finished_state = case when finished_at is not null then 'cancelled' end
            where id = ?
            """;

    /** Cancels every open job of a batch. Idempotent. */
    public Cancel cancelBatch(UUID batchId, Instant now) {
        return Transactions.inTransaction(dataSource, "cancel batch", c -> {
            try (PreparedStatement ps = c.prepareStatement(MARK_BATCH_CANCELLED)) {
                setNow(ps, 1, now);
                ps.setObject(2, batchId);
                if (ps.executeUpdate() == 0) {
                    return new Cancel(false, 0, 0);
                }
            }
            return cancelJobs(c, CANCEL_BATCH_JOBS, batchId, now);
        });
    }

    /** Cancels one job: at once when it waits, at the backend when it runs. Idempotent. */
    public Cancel cancelJob(UUID jobId, Instant now) {
        return Transactions.inTransaction(dataSource, "cancel job", c -> {
            Cancel cancel = cancelJobs(c, CANCEL_ONE_JOB, jobId, now);
            return cancel.cancelled() + cancel.cancelRequested() > 0 ? cancel : new Cancel(jobExists(c, jobId), 0, 0);
        });
    }

    private static Cancel cancelJobs(Connection c, String statement, UUID id, Instant now) throws SQLException {
        int cancelled = 0;
        List<UUID> running = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement(statement)) {
            setNow(ps, 1, now);
            ps.setObject(2, id);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    if (JobState.fromWire(rs.getString(2)) == JobState.RUNNING) {
                        running.add(rs.getObject(1, UUID.class));
                    } else {
                        cancelled++;
                    }
                }
            }
        }
        if (!running.isEmpty()) {
            try (PreparedStatement ps = c.prepareStatement(NOTIFY_CANCEL)) {
                ps.setString(1, QueueSignals.CANCEL_CHANNEL);
                ps.setArray(2, c.createArrayOf("uuid", running.toArray(UUID[]::new)));
                ps.execute();
            }
        }
        return new Cancel(true, cancelled, running.size());
    }

    /** What a retry by hand did. UPSTREAM_UNSUCCESSFUL: it waits for a job that failed or was cancelled. */
    public enum Retry { RETRIED, NOT_FOUND, NOT_RETRYABLE, UPSTREAM_UNSUCCESSFUL }

    // Its upstreams that failed or were cancelled: those must be retried first (their retry re-opens it).
    private static final String UNSUCCESSFUL_UPSTREAMS = """
            select u.key, u.state from job_upstream x join job u on u.id = x.upstream_id
            where x.job_id = ? and u.state in ('failed', 'cancelled')
            order by u.key
            """;

    // History is kept (attempt rows, the attempt number); the budget starts again. A finished batch opens again and
    // takes its turn (V12) for every kind it has, at once: the compaction would only mend it a round later. Every
    // kind, not the retried job's: dependents of another kind open again with it (V19's trigger).
    private static final String RETRY_ONE_JOB = """
            with retried as (
                update job j
                set state = 'pending', attempts_used = 0, run_after = '-infinity', finished_at = null, error = null,
                    result = null, cancel_requested_at = null, waiting_reason = null, progress = null,
                    hand_backs_in_row = 0, avoid_executors = '{}', cancelled_by = null,
                    spec = coalesce(j.spec_template, j.spec),
                    upstreams_left = (select count(*) from job_upstream x join job u on u.id = x.upstream_id
                                      where x.job_id = j.id and u.state <> 'success')
                where j.id = ? and j.state in ('failed', 'cancelled')
                  and not exists (select 1 from job_upstream x join job u on u.id = x.upstream_id
                                  where x.job_id = j.id and u.state in ('failed', 'cancelled'))
                returning j.id, j.batch_id),
            reopened as (
                update batch b set finished_at = null, finished_state = null
                where b.id in (select batch_id from retried) and b.finished_at is not null
                returning b.id, b.priority, b.mode, b.created_at),
            turn as (
                insert into batch_turn (batch_id, kind, priority, mode, created_at)
                select r.id, k.kind, r.priority, r.mode, r.created_at
                from reopened r
                     cross join lateral (select distinct c.kind from job_count c where c.batch_id = r.id) k
                on conflict (batch_id, kind) do nothing)
            select id from retried
            """;

    private static final String RETRY_BATCH_FAILED = """
            with retried as (
                update job j
                set state = 'pending', attempts_used = 0, run_after = '-infinity', finished_at = null, error = null,
                    result = null, cancel_requested_at = null, waiting_reason = null, progress = null,
                    hand_backs_in_row = 0, avoid_executors = '{}', cancelled_by = null,
                    spec = coalesce(j.spec_template, j.spec),
                    upstreams_left = (select count(*) from job_upstream x join job u on u.id = x.upstream_id
                                      where x.job_id = j.id and u.state <> 'success')
                where j.batch_id = ? and j.state = 'failed'
                  and not exists (select 1 from job_upstream x join job u on u.id = x.upstream_id
                                  where x.job_id = j.id and u.state in ('failed', 'cancelled'))
                returning j.id, j.batch_id),
            reopened as (
                update batch b set finished_at = null, finished_state = null
                where b.id in (select batch_id from retried) and b.finished_at is not null
                returning b.id, b.priority, b.mode, b.created_at),
            turn as (
                insert into batch_turn (batch_id, kind, priority, mode, created_at)
                select r.id, k.kind, r.priority, r.mode, r.created_at
                from reopened r
                     cross join lateral (select distinct c.kind from job_count c where c.batch_id = r.id) k
                on conflict (batch_id, kind) do nothing)
            select id from retried
            """;

    /**
     * Sends a failed or cancelled job back to pending with a fresh attempt budget; the jobs its failure cancelled
     * open again (V19__pipelines.sql). A job that waits for one that failed or was cancelled is not retried.
     */
    public Retry retryJob(UUID jobId) {
        return Transactions.inTransaction(dataSource, "retry job", c -> {
            if (retryJobs(c, RETRY_ONE_JOB, jobId) > 0) {
                notifyWork(c);
                return Retry.RETRIED;
            }
            if (!jobExists(c, jobId)) {
                return Retry.NOT_FOUND;
            }
            return unsuccessfulUpstreams(c, jobId).isEmpty() ? Retry.NOT_RETRYABLE : Retry.UPSTREAM_UNSUCCESSFUL;
        });
    }

    /** The upstreams of a job that failed or were cancelled, as "KEY (failed)". */
    public List<String> unsuccessfulUpstreams(UUID jobId) {
        return Transactions.inTransaction(dataSource, "unsuccessful upstreams", c -> unsuccessfulUpstreams(c, jobId));
    }

    private static List<String> unsuccessfulUpstreams(Connection c, UUID jobId) throws SQLException {
        List<String> found = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement(UNSUCCESSFUL_UPSTREAMS)) {
            ps.setObject(1, jobId);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    found.add(rs.getString(1) + " (" + rs.getString(2) + ")");
                }
            }
        }
        return found;
    }

    /**
     * Sends every failed job of a batch back to pending with a fresh budget.
     *
     * @return how many, or -1 when there is no such batch
     */
    public int retryFailed(UUID batchId) {
        return Transactions.inTransaction(dataSource, "retry failed", c -> {
            int retried = retryJobs(c, RETRY_BATCH_FAILED, batchId);
            if (retried > 0) {
                notifyWork(c);
                return retried;
            }
            try (PreparedStatement ps = c.prepareStatement("select 1 from batch where id = ?")) {
                ps.setObject(1, batchId);
                try (ResultSet rs = ps.executeQuery()) {
                    return rs.next() ? 0 : -1;
                }
            }
        });
    }

    /** Runs a retry; a retried job whose upstreams all succeeded gets its templates expanded again. */
    private static int retryJobs(Connection c, String statement, UUID id) throws SQLException {
        Set<UUID> retried;
        try (PreparedStatement ps = c.prepareStatement(statement)) {
            ps.setObject(1, id);
            retried = readIds(ps);
        }
        Pipelines.afterRetry(c, retried, null);
        return retried.size();
    }
}
