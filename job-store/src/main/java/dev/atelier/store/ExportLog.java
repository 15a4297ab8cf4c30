package dev.atelier.store;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import javax.sql.DataSource;

/**
 * Reads the two export logs a page at a time, in {@code seq} order. Because {@code seq} is handed out in commit
 * order (V1__schema.sql, export_counter), a reader that resumes after the last seq it saw never skips a line.
 */
@ApplicationScoped
public class ExportLog {

    /** A terminal transition (ledger.jsonl). */
    public record LedgerLine(long seq, UUID jobId, UUID batchId, String status, String details, int attempts,
                             Instant occurredAt) {
    }

    /** A closed attempt or a hand-back (events.jsonl). {@code attempt} is null for a hand-back. */
    public record EventLine(long seq, UUID jobId, UUID batchId, Integer attempt, String executorId, String status,
                            double elapsedSec, String resultPreview, Instant occurredAt) {
    }

    private static final String LEDGER_PAGE = """
            select seq, job_id, batch_id, status, details, attempts, occurred_at from ledger_line
            where seq > ? and (?::uuid is null or batch_id = ?::uuid)
            order by seq limit ?
            """;

    private static final String EVENTS_PAGE = """
            select seq, job_id, batch_id, attempt, executor_id, status, elapsed_sec, result_preview, occurred_at
            from event_line
            where seq > ? and (?::uuid is null or batch_id = ?::uuid)
            order by seq limit ?
            """;

    private final DataSource dataSource;

    @Inject
    public ExportLog(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    /** Ledger lines after {@code afterSeq}, oldest first; {@code batchId} may be null for all batches. */
    public List<LedgerLine> ledgerAfter(long afterSeq, UUID batchId, int limit) {
        return Transactions.inTransaction(dataSource, "read ledger", c -> {
            try (PreparedStatement ps = c.prepareStatement(LEDGER_PAGE)) {
                bindPage(ps, afterSeq, batchId, limit);
                List<LedgerLine> lines = new ArrayList<>();
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        lines.add(new LedgerLine(rs.getLong(1), rs.getObject(2, UUID.class), rs.getObject(3, UUID.class),
                                rs.getString(4), rs.getString(5), rs.getInt(6), instant(rs, 7)));
                    }
                }
                return lines;
            }
        });
    }

    /** Event lines after {@code afterSeq}, oldest first; {@code batchId} may be null for all batches. */
    public List<EventLine> eventsAfter(long afterSeq, UUID batchId, int limit) {
        return Transactions.inTransaction(dataSource, "read events", c -> {
            try (PreparedStatement ps = c.prepareStatement(EVENTS_PAGE)) {
                bindPage(ps, afterSeq, batchId, limit);
                List<EventLine> lines = new ArrayList<>();
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        lines.add(new EventLine(rs.getLong(1), rs.getObject(2, UUID.class), rs.getObject(3, UUID.class),
                                rs.getObject(4, Integer.class), rs.getString(5), rs.getString(6), rs.getDouble(7),
                                rs.getString(8), instant(rs, 9)));
                    }
                }
                return lines;
            }
        });
    }

    private static void bindPage(PreparedStatement ps, long afterSeq, UUID batchId, int limit) throws SQLException {
        ps.setLong(1, afterSeq);
        ps.setObject(2, batchId);
        ps.setObject(3, batchId);
        ps.setInt(4, limit);
    }

    private static Instant instant(ResultSet rs, int column) throws SQLException {
        return rs.getObject(column, OffsetDateTime.class).toInstant();
    }
}
