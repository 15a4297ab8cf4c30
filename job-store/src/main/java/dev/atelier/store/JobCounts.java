package dev.atelier.store;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
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
     * finished batch at one row per group and kind.
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
                on conflict (batch_id, priority, kind, state) do update set jobs = excluded.jobs)
            select count(*) from summed
            """;

    private static final String BY_STATE = """
            select state, sum(jobs) from job_counts
            where (?::uuid is null or batch_id = ?::uuid)
              and (?::text[] is null or batch_id in (select id from batch where labels @> jsonb_object(?::text[], ?::text[])))
            group by state
            """;

    private static final String BY_GROUP = """
            select priority, kind, state, sum(jobs) from job_counts group by priority, kind, state having sum(jobs) <> 0
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
            try (PreparedStatement ps = c.prepareStatement(BY_STATE)) {
                ps.setObject(1, batchId);
                ps.setObject(2, batchId);
                var keys = labels.isEmpty() ? null : c.createArrayOf("text", labels.keySet().toArray());
                ps.setArray(3, keys);
                ps.setArray(4, keys);
                ps.setArray(5, labels.isEmpty() ? null : c.createArrayOf("text", labels.values().toArray()));
                Map<JobState, Long> counts = zeroCounts();
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        counts.put(JobState.fromWire(rs.getString(1)), rs.getLong(2));
                    }
                }
                return counts;
            }
        });
    }

    /** Jobs per priority, kind and state across all batches (the ledger's metrics); groups with no jobs left out. */
    public List<GroupCount> byGroup() {
        return Transactions.inTransaction(dataSource, "count jobs by group", c -> {
            try (PreparedStatement ps = c.prepareStatement(BY_GROUP); ResultSet rs = ps.executeQuery()) {
                List<GroupCount> groups = new ArrayList<>();
                while (rs.next()) {
                    groups.add(new GroupCount(rs.getInt(1), rs.getString(2), JobState.fromWire(rs.getString(3)),
                            rs.getLong(4)));
                }
                return groups;
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
