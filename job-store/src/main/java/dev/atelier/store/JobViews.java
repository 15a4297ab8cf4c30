package dev.atelier.store;

import dev.atelier.store.ExecutorRegistry.LiveExecutor;
import dev.atelier.store.WaitingReasons.BatchGate;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import javax.sql.DataSource;

/**
 * Jobs as the ledger shows them (API.md, GET /api/v1/jobs): one with its attempts, or a keyset-paged list, each
 * waiting one with the reason it waits.
 */
@ApplicationScoped
public class JobViews {

    /**
     * A job without its spec and result (those can be large), as lists show it.
     *
     * @param upstreams the jobs it waits for (pipelines: its {@code after}), in the order given
     */
    public record JobRow(UUID id, UUID batchId, String key, String type, String kind, String model, String crew,
                         String task, int priority, JobState state, int attempt, int attemptsUsed, int maxAttempts,
                         String executorId, Instant createdAt, Instant startedAt, Instant finishedAt, Instant runAfter,
                         String error, Double progress, String resultPreview, String waitingReason,
                         List<String> checkpoints, List<String> avoidExecutors, List<Upstream> upstreams) {

        JobRow withWaitingReason(String reason) {
            return new JobRow(id, batchId, key, type, kind, model, crew, task, priority, state, attempt, attemptsUsed,
                    maxAttempts, executorId, createdAt, startedAt, finishedAt, runAfter, error, progress,
                    resultPreview, reason, checkpoints, avoidExecutors, upstreams);
        }

        JobRow withUpstreams(List<Upstream> found) {
            return new JobRow(id, batchId, key, type, kind, model, crew, task, priority, state, attempt, attemptsUsed,
                    maxAttempts, executorId, createdAt, startedAt, finishedAt, runAfter, error, progress,
                    resultPreview, waitingReason, checkpoints, avoidExecutors, List.copyOf(found));
        }
    }

    /** A job another waits for, with its state now; {@code runAfter} is when a job in retry may run again. */
    public record Upstream(String key, UUID id, JobState state, Instant runAfter) {
    }

    /** An attempt from the history: only attempts that were spent or are running (a hand-back leaves none). */
    public record AttemptRow(int attempt, String executorId, Instant startedAt, Instant finishedAt, String status,
                             String error) {
    }

    public record JobDetail(JobRow job, String specJson, String resultJson, List<AttemptRow> attempts) {
    }

    /**
     * What waiting reasons are judged by: an executor is live when it reported within {@code liveWindow}; model
     * affinity makes a job of another model wait at most {@code maxAffinityWait} (zero: affinity off).
     */
    public record WaitingRules(Duration liveWindow, Duration maxAffinityWait) {
    }

    /** What a job list may be narrowed to; null or empty means any. */
    public record JobFilter(UUID batchId, Set<JobState> states) {
    }

    private static final Set<JobState> OPEN = Set.of(JobState.PENDING, JobState.RUNNING, JobState.RETRY);
    private static final Set<JobState> UNSUCCESSFUL = Set.of(JobState.FAILED, JobState.CANCELLED);

    private static final String COLUMNS = """
            j.id, j.batch_id, j.key, j.type, j.kind, j.model, j.crew, j.task, j.priority, j.state, j.attempt,
            j.attempts_used, j.max_attempts, j.executor_id, j.created_at, j.started_at, j.finished_at, j.run_after,
            j.error, j.progress, left(j.result ->> 'text', 200) as result_preview, j.waiting_reason, j.checkpoints,
            j.avoid_executors, coalesce(cardinality(j.after_keys), 0) > 0 as waits_for_others""";

    private static final String ONE = "select " + COLUMNS + ", j.spec::text as spec_json, j.result::text as result_json"
            + " from job j where j.id = ?";

    // the upstreams of some jobs, in the order their after lists them
    private static final String UPSTREAMS = """
            select d.id, u.key, u.id, u.state, u.run_after
            from job d
                 join job_upstream x on x.job_id = d.id
                 join job u on u.id = x.upstream_id
            where d.id = any (?::uuid[])
            order by d.id, array_position(d.after_keys, u.key)
            """;

    private static final String ATTEMPTS = """
            select attempt, executor_id, started_at, finished_at, status, error
            from attempt where job_id = ? order by attempt
            """;

    private static final String GATES = """
            select b.id, b.mode, h.key, h.priority,
                   (select count(*) from job g
                    where g.batch_id = b.id and g.state in ('pending', 'running', 'retry') and g.priority = h.priority),
                   (select r.key from job r where r.batch_id = b.id and r.state = 'running' limit 1)
            from batch b
                 left join lateral (
                     select key, priority from job h
                     where h.batch_id = b.id and h.state in ('pending', 'running', 'retry')
                     order by h.priority, h.position limit 1) h on true
            where b.id = any (?)
            """;

    // Kinds with waiting jobs by the kept totals (JobCounts), then, for each, open batches oldest first (batch_open),
    // probed for a waiting job of the kind until one has it: a job is stored with its batch, so the first such batch
    // holds the oldest. Finished batches are never read, nor open ones for a kind that has nothing waiting.
    private static final String OLDEST_WAITING = """
            with waiting as (
                select k.kind from unnest(?::text[]) as k(kind)
                where (select coalesce(sum(c.jobs), 0)
                       from (select t.jobs from job_total t where t.kind = k.kind and t.state in ('pending', 'retry')
                             union all
                             select d.jobs from job_count_delta d
                             where d.kind = k.kind and d.state in ('pending', 'retry')) c) > 0)
            select k.kind, oldest.created_at
            from waiting k
                 cross join lateral (
                     select min(j.created_at) as created_at
                     from (select b.id from batch b
                           where b.finished_at is null
                             and exists (select 1 from job w
                                         where w.batch_id = b.id and w.state in ('pending', 'retry') and w.kind = k.kind)
                           order by b.created_at, b.id
                           limit 1) first
                          join job j on j.batch_id = first.id and j.state in ('pending', 'retry') and j.kind = k.kind
                 ) oldest
            where oldest.created_at is not null
            """;


    private final DataSource dataSource;
    private final ExecutorRegistry registry;

    @Inject
    public JobViews(DataSource dataSource, ExecutorRegistry registry) {
        this.dataSource = dataSource;
        this.registry = registry;
    }

    /**
     * One job with its attempts, spec, result and waiting reason.
     *
     * @param rules what waiting reasons are judged by
     */
    public Optional<JobDetail> find(UUID jobId, WaitingRules rules) {
        Optional<JobDetail> found = Transactions.inTransaction(dataSource, "read job", c -> {
            readOnlySnapshot(c);
            JobDetail detail;
            try (PreparedStatement ps = c.prepareStatement(ONE)) {
                ps.setObject(1, jobId);
                try (ResultSet rs = ps.executeQuery()) {
                    if (!rs.next()) {
                        return Optional.<JobDetail>empty();
                    }
                    detail = new JobDetail(row(rs), rs.getString("spec_json"), rs.getString("result_json"), new ArrayList<>());
                }
            }
            detail = new JobDetail(withUpstreams(c, List.of(detail.job())).get(0), detail.specJson(),
                    detail.resultJson(), detail.attempts());
            try (PreparedStatement ps = c.prepareStatement(ATTEMPTS)) {
                ps.setObject(1, jobId);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        detail.attempts().add(new AttemptRow(rs.getInt(1), rs.getString(2), instant(rs, 3),
                                instant(rs, 4), rs.getString(5), rs.getString(6)));
                    }
                }
            }
            return Optional.of(detail);
        });
        return found.map(d -> new JobDetail(explained(List.of(d.job()), rules).get(0), d.specJson(),
                d.resultJson(), List.copyOf(d.attempts())));
    }

    /**
     * A page of jobs: a batch's in batch order (job priority, then position), or across batches newest first.
     *
     * @param after the id of the last job of the previous page, or null for the first page
     * @return the page, or empty when the filter names a batch that does not exist
     */
    public Optional<List<JobRow>> list(JobFilter filter, UUID after, int limit, WaitingRules rules) {
        Optional<List<JobRow>> rows = Transactions.inTransaction(dataSource, "list jobs", c -> {
            readOnlySnapshot(c);
            if (filter.batchId() != null && !BatchViews.exists(c, filter.batchId())) {
                return Optional.<List<JobRow>>empty();
            }
            StatementParts sql = new StatementParts("select " + COLUMNS + " from job j where true");
            if (filter.batchId() != null) {
                sql.where("j.batch_id = ?", filter.batchId());
            }
            if (filter.states() != null && !filter.states().isEmpty()) {
                sql.where("j.state = any (?::text[])",
                        c.createArrayOf("text", filter.states().stream().map(JobState::wire).toArray()));
                // a fixed predicate the planner can match to a partial index (job_open, job_unsuccessful)
                if (OPEN.containsAll(filter.states())) {
                    sql.where("j.state in ('pending', 'running', 'retry')");
                } else if (UNSUCCESSFUL.containsAll(filter.states())) {
                    sql.where("j.state in ('failed', 'cancelled')");
                }
            }
            if (filter.batchId() != null) {
                if (after != null) {
                    sql.where("(j.priority, j.position) > (select a.priority, a.position from job a where a.id = ?)", after);
                }
                sql.append(" order by j.priority, j.position");
            } else {
                if (after != null) {
                    sql.where("j.id < ?", after);
                }
                sql.append(" order by j.id desc");
            }
            sql.append(" limit ?", limit);
            List<JobRow> page = new ArrayList<>();
            try (PreparedStatement ps = sql.prepare(c); ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    page.add(row(rs));
                }
            }
            return Optional.of(withUpstreams(c, page));
        });
        return rows.map(page -> explained(page, rules));
    }

    // What the dashboard shows, folded into one value that changes when any of it does: a job changing state (its
    // count deltas, until folded, and the folded totals), an export line, an executor's slots, busy slots or drain,
    // a backend's status or models. Heartbeats alone (last_seen_at, checked_at) change nothing. Small tables only.
    private static final String CHANGE_FINGERPRINT = """
            select md5(concat_ws('|',
                (select count(*) from job_count_delta),
                (select string_agg(priority || kind || state || jobs, ',' order by priority, kind, state) from job_total),
                (select max(id) from ledger_line),
                (select string_agg(id || slots::text || busy::text || coalesce(draining_since::text, ''), ',' order by id)
                 from executor),
                (select string_agg(executor_id || kind || status || models::text || loaded_names::text, ','
                                   order by executor_id, kind) from executor_backend)))
            """;

    /** A value that changes whenever anything the dashboard shows changes (LedgerPulse reads it every second). */
    public String changeFingerprint() {
        return Transactions.inTransaction(dataSource, "change fingerprint", c -> {
            readOnlySnapshot(c);
            try (PreparedStatement ps = c.prepareStatement(CHANGE_FINGERPRINT); ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getString(1);
            }
        });
    }

    /**
     * When the oldest waiting (pending or retry) job of each of these backend kinds was stored; kinds with none
     * waiting are left out. It reads open batches oldest first until one has such a job, never finished history.
     */
    public Map<String, Instant> oldestWaiting(Collection<String> kinds) {
        return Transactions.inTransaction(dataSource, "oldest waiting job", c -> {
            Map<String, Instant> oldest = new HashMap<>();
            try (PreparedStatement ps = c.prepareStatement(OLDEST_WAITING)) {
                ps.setArray(1, c.createArrayOf("text", kinds.toArray()));
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        oldest.put(rs.getString(1), instant(rs, 2));
                    }
                }
            }
            return oldest;
        });
    }

    /** The jobs with a waiting reason for each that waits, from one read of the gates and the live executors. */
    private List<JobRow> explained(List<JobRow> rows, WaitingRules rules) {
        List<UUID> waitingBatches = rows.stream()
                .filter(r -> r.state() == JobState.PENDING || r.state() == JobState.RETRY)
                .map(JobRow::batchId).distinct().toList();
        if (waitingBatches.isEmpty()) {
            return rows.stream().map(r -> r.withWaitingReason(null)).toList();
        }
        Map<UUID, BatchGate> gates = gates(waitingBatches);
        List<LiveExecutor> live = registry.live(rules.liveWindow(), null);
        Instant now = Instant.now();
        return rows.stream()
                .map(r -> r.withWaitingReason(WaitingReasons.explain(r, gates.get(r.batchId()), live,
                        rules.maxAffinityWait(), now)))
                .toList();
    }

    private Map<UUID, BatchGate> gates(Collection<UUID> batchIds) {
        return Transactions.inTransaction(dataSource, "read batch gates", c -> {
            Map<UUID, BatchGate> gates = new HashMap<>();
            try (PreparedStatement ps = c.prepareStatement(GATES)) {
                ps.setArray(1, c.createArrayOf("uuid", batchIds.toArray()));
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        gates.put(rs.getObject(1, UUID.class), new BatchGate(BatchMode.fromWire(rs.getString(2)),
                                rs.getString(3), rs.getObject(4, Integer.class), rs.getLong(5), rs.getString(6)));
                    }
                }
            }
            return gates;
        });
    }

    /** The rows with their upstreams, read for those that wait for others only. */
    private static List<JobRow> withUpstreams(Connection c, List<JobRow> rows) throws SQLException {
        List<UUID> waiting = rows.stream().filter(r -> r.upstreams() == null).map(JobRow::id).toList();
        if (waiting.isEmpty()) {
            return rows;
        }
        Map<UUID, List<Upstream>> found = new HashMap<>();
        try (PreparedStatement ps = c.prepareStatement(UPSTREAMS)) {
            ps.setArray(1, c.createArrayOf("uuid", waiting.toArray()));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    String runAfter = rs.getString(5);
                    found.computeIfAbsent(rs.getObject(1, UUID.class), id -> new ArrayList<>()).add(new Upstream(
                            rs.getString(2), rs.getObject(3, UUID.class), JobState.fromWire(rs.getString(4)),
                            runAfter == null || runAfter.equals("-infinity") ? null : instant(rs, 5)));
                }
            }
        }
        return rows.stream().map(r -> r.upstreams() != null ? r : r.withUpstreams(found.getOrDefault(r.id(), List.of())))
                .toList();
    }

    private static JobRow row(ResultSet rs) throws SQLException {
        return new JobRow(rs.getObject(1, UUID.class), rs.getObject(2, UUID.class), rs.getString(3), rs.getString(4),
                rs.getString(5), rs.getString(6), rs.getString(7), rs.getString(8), rs.getInt(9),
                JobState.fromWire(rs.getString(10)), rs.getInt(11), rs.getInt(12), rs.getInt(13), rs.getString(14),
                instant(rs, 15), instant(rs, 16), instant(rs, 17), runAfter(rs), rs.getString(19),
                rs.getObject(20, Float.class) == null ? null : (double) rs.getFloat(20), rs.getString(21),
                rs.getString(22), List.of((String[]) rs.getArray("checkpoints").getArray()),
                List.of((String[]) rs.getArray("avoid_executors").getArray()),
                rs.getBoolean("waits_for_others") ? null : List.of()); // null: read by withUpstreams
    }

    // '-infinity' (never backed off) reads as null
    private static Instant runAfter(ResultSet rs) throws SQLException {
        String text = rs.getString(18);
        return text == null || text.equals("-infinity") ? null : instant(rs, 18);
    }

    static void readOnlySnapshot(Connection c) throws SQLException {
        try (var s = c.createStatement()) {
            s.execute("set transaction isolation level repeatable read, read only");
        }
    }

    private static Instant instant(ResultSet rs, int column) throws SQLException {
        OffsetDateTime t = rs.getObject(column, OffsetDateTime.class);
        return t == null ? null : t.toInstant();
    }
}
