package dev.atelier.store;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import javax.sql.DataSource;

/**
 * Job counts per batch, priority group, backend kind and state, kept by triggers in the transaction that changes a
 * job (V2__job_counts.sql). Reading them costs a few rows per batch, never a scan of the job table.
 */
@ApplicationScoped
public class JobCounts {

    /** Jobs of one priority and backend kind in one state, across the batches asked for. */
    public record GroupCount(int priority, String kind, JobState state, long jobs) {
    }

    /*
     * Folds the appended deltas into job_count. One compactor at a time (an advisory lock; the others skip), and
     * it is the only writer of job_count, so it may write absolute totals. Rows that reach zero go, which keeps a
     * finished batch at one row per group and kind. (job_total follows job_count by trigger, V12.)
     *
     * It also settles the batches whose jobs moved: one with no open job left has finished (it leaves batch_turn,
     * which the claim walks, and its end is stored for the batch list); one stored as finished that has open jobs
     * again (a retry by hand that raced an earlier round) opens again. Every statement that moves a job appends a
     * delta in its own transaction, so this round sees each batch's last move together with its delta: no batch is
     * left open, and a wrong end is mended by the next round.
     */
    private static final String COMPACT = """
            with lock as materialized (select pg_try_advisory_xact_lock(hashtext('atelier.job_count')) as held),
            moved as (
                delete from job_count_delta d where (select held from lock)
                returning d.batch_id, d.priority, d.kind, d.state, d.jobs),
            summed as materialized (
                select m.batch_id, m.priority, m.kind, m.state, sum(m.jobs) as jobs
                from moved m join batch b on b.id = m.batch_id
                group by m.batch_id, m.priority, m.kind, m.state),
            total as materialized (
                select s.batch_id, s.priority, s.kind, s.state, coalesce(c.jobs, 0) + s.jobs as jobs,
                       c.batch_id is not null as present
                from summed s
                     left join job_count c
                     on (c.batch_id, c.priority, c.kind, c.state) = (s.batch_id, s.priority, s.kind, s.state)),
            emptied as (
                delete from job_count c using total t
                where t.present and t.jobs = 0
                  and (c.batch_id, c.priority, c.kind, c.state) = (t.batch_id, t.priority, t.kind, t.state)),
            kept as (
                insert into job_count (batch_id, priority, kind, state, jobs)
                select batch_id, priority, kind, state, jobs from total where jobs <> 0
                order by batch_id, priority, kind, state
                on conflict (batch_id, priority, kind, state) do update set jobs = excluded.jobs),
            -- the batches whose jobs moved, by their counts in this statement's snapshot (job_counts still holds the
            -- deltas this statement deletes: a statement's changes are not visible to itself)
            settled as materialized (
                select b.id, b.priority, b.mode, b.created_at, b.finished_at, n.open,
                       batch_state(b.id, b.cancelled_at) as end_state
                from (select distinct batch_id from summed) touched
                     join batch b on b.id = touched.batch_id
                     cross join lateral (
                         select coalesce(sum(k.jobs), 0) as open from job_counts k
                         where k.batch_id = b.id and k.state in ('pending', 'running', 'retry')) n),
            finished as (
                update batch b set finished_at = now(), finished_state = s.end_state
                from settled s
                where b.id = s.id and s.open = 0 and s.finished_at is null),
            turn_over as (
                delete from batch_turn t using settled s where t.batch_id = s.id and s.open = 0),
            reopened as (
                update batch b set finished_at = null, finished_state = null
                from settled s
                where b.id = s.id and s.open > 0 and s.finished_at is not null),
            turn_again as (
                insert into batch_turn (batch_id, kind, priority, mode, created_at)
                select distinct s.id, k.kind, s.priority, s.mode, s.created_at
                from settled s
                     cross join lateral (select c.kind from job_count c where c.batch_id = s.id
                                         union
                                         select m.kind from summed m where m.batch_id = s.id) k
                where s.open > 0 and s.finished_at is not null
                on conflict (batch_id, kind) do nothing)
            select count(*) from summed
            """;

    private static final String BY_STATE = """
            select state, sum(jobs) from job_counts
            where (?::uuid is null or batch_id = ?::uuid)
              and (?::text[] is null or batch_id in (select id from batch where labels @> jsonb_object(?::text[], ?::text[])))
            group by state
            """;

    // The totals and the deltas not yet folded (a few per statement since the last compaction): as exact as
    // job_counts, and as cheap with a million finished batches as with none.
    private static final String ALL_BY_STATE = """
            select state, sum(jobs)
            from (select state, jobs from job_total
                  union all
                  select state, jobs from job_count_delta) c
            group by state
            """;

    private static final String ALL_BY_GROUP = """
            select priority, kind, state, sum(jobs)
            from (select priority, kind, state, jobs from job_total
                  union all
                  select priority, kind, state, jobs from job_count_delta) c
            group by priority, kind, state
            having sum(jobs) <> 0
            """;

    private static final String OPEN = """
            select coalesce(sum(jobs), 0)
            from (select jobs from job_total where state in ('pending', 'running', 'retry')
                  union all
                  select jobs from job_count_delta where state in ('pending', 'running', 'retry')) c
            """;

    private final DataSource dataSource;

    @Inject
    public JobCounts(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    /**
     * Folds the deltas written since the last call. Safe to call from every executor at once: one folds, the
     * others return at once.
     *
     * @return how many counters changed
     */
    public int compact() {
        return Transactions.inTransaction(dataSource, "compact job counts", c -> {
            try (PreparedStatement ps = c.prepareStatement(COMPACT); ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getInt(1);
            }
        });
    }

    /**
     * Jobs per state (every state present, zero or not).
     *
     * @param batchId only this batch, or null
     * @param labels  only batches carrying all these labels; empty for any
     */
    public Map<JobState, Long> byState(UUID batchId, Map<String, String> labels) {
        return Transactions.inTransaction(dataSource, "count jobs", c -> {
            Map<JobState, Long> counts = zeroCounts();
            if (batchId == null && labels.isEmpty()) {
                try (PreparedStatement ps = c.prepareStatement(ALL_BY_STATE)) {
                    readStateCounts(ps, counts);
                }
                return counts;
            }
            try (PreparedStatement ps = c.prepareStatement(BY_STATE)) {
                ps.setObject(1, batchId);
                ps.setObject(2, batchId);
                var keys = labels.isEmpty() ? null : c.createArrayOf("text", labels.keySet().toArray());
                ps.setArray(3, keys);
                ps.setArray(4, keys);
                ps.setArray(5, labels.isEmpty() ? null : c.createArrayOf("text", labels.values().toArray()));
                readStateCounts(ps, counts);
            }
            return counts;
        });
    }

    private static void readStateCounts(PreparedStatement ps, Map<JobState, Long> counts) throws SQLException {
        try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                counts.put(JobState.fromWire(rs.getString(1)), rs.getLong(2));
            }
        }
    }

    /** Jobs per priority, kind and state across all batches (the ledger's metrics); groups with no jobs left out. */
    public List<GroupCount> byGroup() {
        return Transactions.inTransaction(dataSource, "count jobs by group", c -> {
            try (PreparedStatement ps = c.prepareStatement(ALL_BY_GROUP); ResultSet rs = ps.executeQuery()) {
                List<GroupCount> groups = new ArrayList<>();
                while (rs.next()) {
                    groups.add(new GroupCount(rs.getInt(1), rs.getString(2), JobState.fromWire(rs.getString(3)),
                            rs.getLong(4)));
                }
                return groups;
            }
        });
    }

    /** Jobs not yet finished (the gateway's backpressure): a few dozen rows read, however many jobs are stored. */
    public long open() {
        return Transactions.inTransaction(dataSource, "count open jobs", c -> {
            try (PreparedStatement ps = c.prepareStatement(OPEN); ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        });
    }

    /** Every state with a count of zero, in state order. */
    public static Map<JobState, Long> zeroCounts() {
        Map<JobState, Long> counts = new EnumMap<>(JobState.class);
        for (JobState s : JobState.values()) {
            counts.put(s, 0L);
        }
        return counts;
    }
}
