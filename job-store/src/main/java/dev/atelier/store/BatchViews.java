package dev.atelier.store;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import javax.sql.DataSource;

/**
 * A batch as clients see it (API.md, GET /api/v1/batches/{id}): its state, counts per state and per priority
 * group, and its jobs. The gateway and the ledger answer from here, so they answer alike.
 */
@ApplicationScoped
public class BatchViews {

    /** The batch states (API.md, conventions). */
    public enum BatchState { PENDING, RUNNING, SUCCESS, FAILED, CANCELLED }

    /** @param after the keys of the jobs it waits for (pipelines) */
    public record JobSummary(UUID id, String key, int priority, JobState state, List<String> after) {
    }

    public record Group(int priority, Map<JobState, Long> statusCounts) {
    }

    public record BatchView(UUID id, String name, BatchMode mode, int priority, BatchState state, String labelsJson,
                            String submittedBy, Instant createdAt, Instant startedAt, Instant finishedAt,
                            double elapsedSec, Map<JobState, Long> statusCounts, double progress,
                            List<Group> groups, List<JobSummary> jobs, List<List<String>> chains) {
    }

    /** At most this many chains are listed: a lattice of diamonds has more paths than anyone reads. */
    public static final int MAX_CHAINS = 100;

    /** A batch in a list: as one batch is shown, without its jobs, and without timings (those need its jobs). */
    public record BatchSummary(UUID id, String name, BatchMode mode, int priority, BatchState state, String labelsJson,
                               String submittedBy, Instant createdAt, Map<JobState, Long> statusCounts,
                               double progress, List<Group> groups) {
    }

    /**
     * What a batch list may be narrowed to; empty means any.
     *
     * @param finishedBefore only batches that finished before this (what a prune would delete), or null
     * @param nameContains   only batches whose name contains this, ignoring case (the dashboard's search), or null
     */
    public record BatchFilter(Set<BatchState> states, Map<String, String> labels, Instant finishedBefore,
                              String nameContains) {
        public BatchFilter(Set<BatchState> states, Map<String, String> labels, Instant finishedBefore) {
            this(states, labels, finishedBefore, null);
        }

        public BatchFilter(Set<BatchState> states, Map<String, String> labels) {
            this(states, labels, null, null);
        }
    }

    // Newest first. A finished batch's state was stored when it finished; an open one's comes from its counts
    // (batch_state, V12, the rule state(...) below applies to one batch). Optional filters are null when unused.
    // The name search reads batches newest first until a page matches: a studio keeps thousands of batches (prune
    // deletes old ones), so no index is kept for it.
    private static final String LIST = """
            select b.id, b.name, b.mode, b.priority, b.labels::text, b.submitted_by, b.created_at,
                   coalesce(b.finished_state, batch_state(b.id, b.cancelled_at)) as state
            from batch b
            where (?::text[] is null or b.labels @> jsonb_object(?::text[], ?::text[]))
              and (?::uuid is null or (b.created_at, b.id) < (select a.created_at, a.id from batch a where a.id = ?::uuid))
              and (?::timestamptz is null or b.finished_at < ?::timestamptz)
              and (?::text is null or strpos(lower(b.name), lower(?::text)) > 0)
            order by b.created_at desc, b.id desc
            limit ?
            """;

    // The same, in some states only, at a cost that does not grow with finished history: the newest finished
    // batches of each terminal state asked for (batch_finished), and the newest open batches whose counts put them
    // in a state asked for (batch_open), each at most a page, merged.
    private static final String LIST_IN_STATES = """
            select * from (
                select f.* from unnest(?::text[]) as s(state)
                     cross join lateral (
                         select b.id, b.name, b.mode, b.priority, b.labels::text, b.submitted_by, b.created_at,
                                b.finished_state as state
                         from batch b
                         where b.finished_at is not null and b.finished_state = s.state
                           and (?::text[] is null or b.labels @> jsonb_object(?::text[], ?::text[]))
                           and (?::uuid is null
                                or (b.created_at, b.id) < (select a.created_at, a.id from batch a where a.id = ?::uuid))
                           and (?::timestamptz is null or b.finished_at < ?::timestamptz)
                           and (?::text is null or strpos(lower(b.name), lower(?::text)) > 0)
                         order by b.created_at desc, b.id desc
                         limit ?) f
                union all
                (select o.* from (
                     select b.id, b.name, b.mode, b.priority, b.labels::text, b.submitted_by, b.created_at,
                            batch_state(b.id, b.cancelled_at) as state
                     from batch b
                     where b.finished_at is null
                       and (?::text[] is null or b.labels @> jsonb_object(?::text[], ?::text[]))
                       and (?::uuid is null
                            or (b.created_at, b.id) < (select a.created_at, a.id from batch a where a.id = ?::uuid))
                       -- an open batch has not finished: none passes a finished_before filter
                       and (?::timestamptz is null or b.finished_at < ?::timestamptz)
                       and (?::text is null or strpos(lower(b.name), lower(?::text)) > 0)
                     order by b.created_at desc, b.id desc) o
                 where o.state = any (?::text[])
                 limit ?)) listed
            order by created_at desc, id desc
            limit ?
            """;

    private static final String GROUP_COUNTS = """
            select batch_id, priority, state, sum(jobs) from job_counts where batch_id = any (?)
            group by batch_id, priority, state
            """;

    private static final String BATCH = """
            select id, name, mode, priority, labels::text, submitted_by, created_at, cancelled_at, now()
            from batch where id = ?
            """;

    private static final String COUNTS = """
            select priority, state, count(*), min(started_at), max(finished_at)
            from job where batch_id = ?
            group by priority, state
            """;

    private static final String JOBS = """
            select id, key, priority, state, after_keys from job where batch_id = ? order by position
            """;

    private final DataSource dataSource;

    @Inject
    public BatchViews(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    public Optional<BatchView> find(UUID batchId) {
        return Transactions.inTransaction(dataSource, "read batch", c -> {
            // one snapshot for the three reads, so the counts and the jobs agree
            try (var s = c.createStatement()) {
                s.execute("set transaction isolation level repeatable read, read only");
            }
            String name, mode, labels, submittedBy;
            int priority;
            OffsetDateTime createdAt, cancelledAt, now;
            try (PreparedStatement ps = c.prepareStatement(BATCH)) {
                ps.setObject(1, batchId);
                try (ResultSet rs = ps.executeQuery()) {
                    if (!rs.next()) {
                        return Optional.<BatchView>empty();
                    }
                    name = rs.getString(2);
                    mode = rs.getString(3);
                    priority = rs.getInt(4);
                    labels = rs.getString(5);
                    submittedBy = rs.getString(6);
                    createdAt = rs.getObject(7, OffsetDateTime.class);
                    cancelledAt = rs.getObject(8, OffsetDateTime.class);
                    now = rs.getObject(9, OffsetDateTime.class);
                }
            }
            Map<JobState, Long> counts = JobCounts.zeroCounts();
            Map<Integer, Map<JobState, Long>> byGroup = new TreeMap<>();
            OffsetDateTime startedAt = null, lastFinished = null;
            try (PreparedStatement ps = c.prepareStatement(COUNTS)) {
                ps.setObject(1, batchId);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        JobState state = JobState.fromWire(rs.getString(2));
                        long n = rs.getLong(3);
                        counts.merge(state, n, Long::sum);
                        byGroup.computeIfAbsent(rs.getInt(1), p -> JobCounts.zeroCounts()).merge(state, n, Long::sum);
                        startedAt = earliest(startedAt, rs.getObject(4, OffsetDateTime.class));
                        lastFinished = latest(lastFinished, rs.getObject(5, OffsetDateTime.class));
                    }
                }
            }
            List<JobSummary> jobs = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement(JOBS)) {
                ps.setObject(1, batchId);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        jobs.add(new JobSummary(rs.getObject(1, UUID.class), rs.getString(2), rs.getInt(3),
                                JobState.fromWire(rs.getString(4)),
                                rs.getArray(5) == null ? List.of() : List.of((String[]) rs.getArray(5).getArray())));
                    }
                }
            }
            long total = counts.values().stream().mapToLong(Long::longValue).sum();
            long terminal = counts.entrySet().stream().filter(e -> e.getKey().terminal())
                    .mapToLong(Map.Entry::getValue).sum();
            boolean allDone = total > 0 && terminal == total;
            OffsetDateTime finishedAt = allDone ? lastFinished : null;
            boolean started = counts.get(JobState.RUNNING) + counts.get(JobState.RETRY) + terminal > 0;
            BatchState state = state(counts, cancelledAt != null, allDone, started);
            double elapsed = startedAt == null ? 0
                    : Duration.between(startedAt, finishedAt != null ? finishedAt : now).toMillis() / 1000.0;
            List<Group> groups = byGroup.entrySet().stream().map(e -> new Group(e.getKey(), e.getValue())).toList();
            return Optional.of(new BatchView(batchId, name, BatchMode.fromWire(mode), priority, state, labels,
                    submittedBy, createdAt.toInstant(), instant(startedAt), instant(finishedAt), elapsed, counts,
                    progress(counts), groups, jobs, chains(jobs)));
        });
    }

    /**
     * The batch's pipelines as chains of keys, each from a job that waits for none to one that none waits for, in
     * batch order (a diamond is two chains that share their ends); jobs outside any pipeline are in none. At most
     * {@link #MAX_CHAINS}.
     */
    static List<List<String>> chains(List<JobSummary> jobs) {
        Map<String, List<String>> dependents = new java.util.LinkedHashMap<>();
        java.util.Set<String> waiting = new java.util.HashSet<>();
        for (JobSummary job : jobs) {
            for (String upstream : job.after()) {
                dependents.computeIfAbsent(upstream, k -> new ArrayList<>()).add(job.key());
                waiting.add(job.key());
            }
        }
        List<List<String>> chains = new ArrayList<>();
        for (JobSummary start : jobs) {
            if (waiting.contains(start.key()) || !dependents.containsKey(start.key())) {
                continue;
            }
            // depth first, without recursion (a chain may be thousands of jobs long)
            List<String> path = new ArrayList<>(List.of(start.key()));
            java.util.Deque<Integer> next = new java.util.ArrayDeque<>(List.of(0));
            while (!path.isEmpty() && chains.size() < MAX_CHAINS) {
                List<String> after = dependents.getOrDefault(path.get(path.size() - 1), List.of());
                int i = next.pop();
                if (after.isEmpty()) {
                    chains.add(List.copyOf(path));
                }
                if (i >= after.size()) {
                    path.remove(path.size() - 1);
                    continue;
                }
                next.push(i + 1);
                path.add(after.get(i));
                next.push(0);
            }
        }
        return chains;
    }

    public boolean exists(UUID batchId) {
        return Transactions.inTransaction(dataSource, "find batch", c -> exists(c, batchId));
    }

    /** Whether the batch exists, read in the caller's transaction (and snapshot). */
    static boolean exists(Connection c, UUID batchId) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("select 1 from batch where id = ?")) {
            ps.setObject(1, batchId);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next();
            }
        }
    }

    /**
     * A page of batches, newest first.
     *
     * @param after the id of the last batch of the previous page, or null for the first page
     */
    public List<BatchSummary> list(BatchFilter filter, UUID after, int limit) {
        return Transactions.inTransaction(dataSource, "list batches", c -> {
            JobViews.readOnlySnapshot(c);
            Array keys = filter.labels().isEmpty() ? null
                    : c.createArrayOf("text", filter.labels().keySet().toArray());
            Array values = filter.labels().isEmpty() ? null
                    : c.createArrayOf("text", filter.labels().values().toArray());
            OffsetDateTime finishedBefore = filter.finishedBefore() == null ? null
                    : filter.finishedBefore().atOffset(ZoneOffset.UTC);
            List<Object> narrowing = Arrays.asList(keys, keys, values, after, after, finishedBefore, finishedBefore,
                    filter.nameContains(), filter.nameContains());
            List<Object> parameters = new ArrayList<>();
            String statement;
            if (filter.states().isEmpty()) {
                statement = LIST;
                parameters.addAll(narrowing);
            } else {
                statement = LIST_IN_STATES;
                Array states = c.createArrayOf("text",
                        filter.states().stream().map(st -> st.name().toLowerCase(Locale.ROOT)).toArray());
                Array finishedStates = c.createArrayOf("text", filter.states().stream()
                        .filter(st -> st != BatchState.PENDING && st != BatchState.RUNNING)
                        .map(st -> st.name().toLowerCase(Locale.ROOT)).toArray());
                parameters.add(finishedStates);
                parameters.addAll(narrowing);
                parameters.add(limit);
                parameters.addAll(narrowing);
                parameters.add(states);
                parameters.add(limit);
            }
            parameters.add(limit);
            List<BatchSummary> page = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement(statement)) {
                for (int i = 0; i < parameters.size(); i++) {
                    ps.setObject(i + 1, parameters.get(i));
                }
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        page.add(new BatchSummary(rs.getObject(1, UUID.class), rs.getString(2),
                                BatchMode.fromWire(rs.getString(3)), rs.getInt(4),
                                BatchState.valueOf(rs.getString(8).toUpperCase(Locale.ROOT)), rs.getString(5),
                                rs.getString(6), rs.getObject(7, OffsetDateTime.class).toInstant(),
                                JobCounts.zeroCounts(), 0, new ArrayList<>()));
                    }
                }
            }
            if (page.isEmpty()) {
                return page;
            }
            Map<UUID, Map<Integer, Map<JobState, Long>>> groups = new HashMap<>();
            try (PreparedStatement ps = c.prepareStatement(GROUP_COUNTS)) {
                ps.setArray(1, c.createArrayOf("uuid", page.stream().map(BatchSummary::id).toArray()));
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        groups.computeIfAbsent(rs.getObject(1, UUID.class), id -> new TreeMap<>())
                                .computeIfAbsent(rs.getInt(2), p -> JobCounts.zeroCounts())
                                .merge(JobState.fromWire(rs.getString(3)), rs.getLong(4), Long::sum);
                    }
                }
            }
            return page.stream().map(b -> withCounts(b, groups.getOrDefault(b.id(), Map.of()))).toList();
        });
    }

    private static BatchSummary withCounts(BatchSummary b, Map<Integer, Map<JobState, Long>> byGroup) {
        Map<JobState, Long> counts = JobCounts.zeroCounts();
        List<Group> groups = new ArrayList<>();
        byGroup.forEach((priority, groupCounts) -> {
            groupCounts.forEach((state, n) -> counts.merge(state, n, Long::sum));
            groups.add(new Group(priority, groupCounts));
        });
        return new BatchSummary(b.id(), b.name(), b.mode(), b.priority(), b.state(), b.labelsJson(), b.submittedBy(),
                b.createdAt(), counts, progress(counts), groups);
    }

    private static double progress(Map<JobState, Long> counts) {
        long total = counts.values().stream().mapToLong(Long::longValue).sum();
        long terminal = counts.entrySet().stream().filter(e -> e.getKey().terminal())
                .mapToLong(Map.Entry::getValue).sum();
        return total == 0 ? 0 : (double) terminal / total;
    }

    private static BatchState state(Map<JobState, Long> counts, boolean cancelled, boolean allDone, boolean started) {
        if (cancelled) {
            return BatchState.CANCELLED;
        }
        if (allDone) {
            if (counts.get(JobState.FAILED) > 0) {
                return BatchState.FAILED;
            }
            return counts.get(JobState.CANCELLED) > 0 ? BatchState.CANCELLED : BatchState.SUCCESS;
        }
        return started ? BatchState.RUNNING : BatchState.PENDING;
    }

    private static OffsetDateTime earliest(OffsetDateTime a, OffsetDateTime b) {
        return a == null ? b : b == null || a.isBefore(b) ? a : b;
    }

    private static OffsetDateTime latest(OffsetDateTime a, OffsetDateTime b) {
        return a == null ? b : b == null || a.isAfter(b) ? a : b;
    }

    private static Instant instant(OffsetDateTime t) {
        return t == null ? null : t.toInstant();
    }
}
