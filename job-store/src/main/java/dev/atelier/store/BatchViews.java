package dev.atelier.store;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
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

    public record JobSummary(UUID id, String key, int priority, JobState state) {
    }

    public record Group(int priority, Map<JobState, Long> statusCounts) {
    }

    public record BatchView(UUID id, String name, BatchMode mode, int priority, BatchState state, String labelsJson,
                            String submittedBy, Instant createdAt, Instant startedAt, Instant finishedAt,
                            double elapsedSec, Map<JobState, Long> statusCounts, double progress,
                            List<Group> groups, List<JobSummary> jobs) {
    }

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
            select id, key, priority, state from job where batch_id = ? order by position
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
            Map<JobState, Long> counts = emptyCounts();
            Map<Integer, Map<JobState, Long>> byGroup = new TreeMap<>();
            OffsetDateTime startedAt = null, lastFinished = null;
            try (PreparedStatement ps = c.prepareStatement(COUNTS)) {
                ps.setObject(1, batchId);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        JobState state = JobState.fromWire(rs.getString(2));
                        long n = rs.getLong(3);
                        counts.merge(state, n, Long::sum);
                        byGroup.computeIfAbsent(rs.getInt(1), p -> emptyCounts()).merge(state, n, Long::sum);
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
                                JobState.fromWire(rs.getString(4))));
                    }
                }
            }
            long total = counts.values().stream().mapToLong(Long::longValue).sum();
            long terminal = counts.entrySet().stream().filter(e -> e.getKey().terminal())
                    .mapToLong(Map.Entry::getValue).sum();
            boolean allDone = total > 0 && terminal == total;
            OffsetDateTime finishedAt = allDone ? lastFinished : null;
            BatchState state = state(counts, cancelledAt != null, allDone, startedAt != null || terminal > 0);
            double elapsed = startedAt == null ? 0
                    : Duration.between(startedAt, finishedAt != null ? finishedAt : now).toMillis() / 1000.0;
            List<Group> groups = byGroup.entrySet().stream().map(e -> new Group(e.getKey(), e.getValue())).toList();
            return Optional.of(new BatchView(batchId, name, BatchMode.fromWire(mode), priority, state, labels,
                    submittedBy, createdAt.toInstant(), instant(startedAt), instant(finishedAt), elapsed, counts,
                    total == 0 ? 0 : (double) terminal / total, groups, jobs));
        });
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

    private static Map<JobState, Long> emptyCounts() {
        Map<JobState, Long> counts = new EnumMap<>(JobState.class);
        for (JobState s : JobState.values()) {
            counts.put(s, 0L);
        }
        return counts;
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
