package dev.atelier.store;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import javax.sql.DataSource;

/**
 * Reads the two export logs a page at a time, in {@code seq} order. Lines are written without a number and numbered
 * once their transactions have ended, one round after another (V5__numbered_exports_and_lighter_writes.sql), so a
 * reader that resumes after the last seq it saw never skips a line. Each page first numbers what is waiting, then
 * reads; each is its own short transaction, so a long export holds no connection between pages.
 */
@ApplicationScoped
public class ExportLog {

    /** What an export may be narrowed to; null or empty means any. {@code since} is inclusive, {@code until} not. */
    public record ExportFilter(UUID batchId, Set<String> statuses, Instant since, Instant until) {
        public static final ExportFilter ALL = new ExportFilter(null, Set.of(), null, null);
    }

    /**
     * A terminal transition (ledger.jsonl). {@code crew} and {@code task} are as submitted; a job that is not a crew
     * job shows its type and key there (API.md).
     */
    public record LedgerLine(long seq, UUID jobId, UUID batchId, String crew, String task, String status,
                             String details, Instant occurredAt, int attempts, String key, int priority, String model,
                             String type) {
    }

    /** A closed attempt or a hand-back (events.jsonl). {@code attempt} is null for a hand-back. */
    public record EventLine(long seq, Instant occurredAt, String crew, String task, int priority, String status,
                            double elapsedSec, String resultPreview, Integer attempt, String executorId, UUID jobId,
                            UUID batchId) {
    }

    private static final String LEDGER_PAGE = """
            select l.seq, l.job_id, l.batch_id, coalesce(j.crew, j.type), coalesce(j.task, j.key), l.status, l.details,
                   l.occurred_at, l.attempts, j.key, j.priority, j.model, j.type
            from ledger_line l join job j on j.id = l.job_id
            where l.seq > ?""";

    private static final String EVENTS_PAGE = """
            select l.seq, l.occurred_at, coalesce(j.crew, j.type), coalesce(j.task, j.key), j.priority, l.status,
                   l.elapsed_sec, l.result_preview, l.attempt, l.executor_id, l.job_id, l.batch_id
            from event_line l join job j on j.id = l.job_id
            where l.seq > ?""";

    private final DataSource dataSource;

    @Inject
    public ExportLog(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    /** Lines numbered per round and log; a larger backlog is numbered over several rounds. */
    public static final int NUMBERING_ROUND = 10_000;

    /**
     * Numbers export lines whose transactions have ended (one round); returns how many. Readers call it before each
     * page and the executors' reap loop calls it, so lines are served soon after they commit.
     */
    public long numberNewLines() {
        return Transactions.inTransaction(dataSource, "number export lines", c -> {
            try (PreparedStatement ps = c.prepareStatement("select number_export_lines(?)")) {
                ps.setInt(1, NUMBERING_ROUND);
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    return rs.getLong(1);
                }
            }
        });
    }

    /** Up to {@code limit} ledger lines after {@code afterSeq}, oldest first. */
    public List<LedgerLine> ledgerAfter(ExportFilter filter, long afterSeq, int limit) {
        numberNewLines();
        return Transactions.inTransaction(dataSource, "read ledger", c -> {
            List<LedgerLine> lines = new ArrayList<>();
            try (PreparedStatement ps = page(c, LEDGER_PAGE, filter, afterSeq, limit); ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    lines.add(new LedgerLine(rs.getLong(1), rs.getObject(2, UUID.class), rs.getObject(3, UUID.class),
                            rs.getString(4), rs.getString(5), rs.getString(6), rs.getString(7), instant(rs, 8),
                            rs.getInt(9), rs.getString(10), rs.getInt(11), rs.getString(12), rs.getString(13)));
                }
            }
            return lines;
        });
    }

    /** Up to {@code limit} event lines after {@code afterSeq}, oldest first. */
    public List<EventLine> eventsAfter(ExportFilter filter, long afterSeq, int limit) {
        numberNewLines();
        return Transactions.inTransaction(dataSource, "read events", c -> {
            List<EventLine> lines = new ArrayList<>();
            try (PreparedStatement ps = page(c, EVENTS_PAGE, filter, afterSeq, limit); ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    lines.add(new EventLine(rs.getLong(1), instant(rs, 2), rs.getString(3), rs.getString(4),
                            rs.getInt(5), rs.getString(6), rs.getDouble(7), rs.getString(8),
                            rs.getObject(9, Integer.class), rs.getString(10), rs.getObject(11, UUID.class),
                            rs.getObject(12, UUID.class)));
                }
            }
            return lines;
        });
    }

    private static PreparedStatement page(Connection c, String base, ExportFilter filter, long afterSeq, int limit)
            throws SQLException {
        StatementParts sql = new StatementParts(base);
        sql.parameters(afterSeq);
        if (filter.batchId() != null) {
            sql.where("l.batch_id = ?", filter.batchId());
        }
        if (filter.statuses() != null && !filter.statuses().isEmpty()) {
            sql.where("l.status = any (?::text[])", c.createArrayOf("text", filter.statuses().toArray()));
        }
        if (filter.since() != null) {
            sql.where("l.occurred_at >= ?", filter.since());
        }
        if (filter.until() != null) {
            sql.where("l.occurred_at < ?", filter.until());
        }
        sql.append(" order by l.seq limit ?", limit);
        return sql.prepare(c);
    }

    private static Instant instant(ResultSet rs, int column) throws SQLException {
        return rs.getObject(column, OffsetDateTime.class).toInstant();
    }
}
