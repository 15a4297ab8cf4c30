package dev.atelier.store;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.io.IOException;
import java.io.OutputStream;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Instant;
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
 *
 * <p>Each line is rendered as JSON once, by PostgreSQL, when it is numbered (V14__self_contained_export_lines.sql),
 * and a page is handed on as the bytes the server sent: no line is parsed or built in Java.
 */
@ApplicationScoped
public class ExportLog {

    /** What an export may be narrowed to; null or empty means any. {@code since} is inclusive, {@code until} not. */
    public record ExportFilter(UUID batchId, Set<String> statuses, Instant since, Instant until) {
        public static final ExportFilter ALL = new ExportFilter(null, Set.of(), null, null);
    }

    /**
     * A page of JSONL lines (UTF-8, without their newlines), the last with seq {@code lastSeq} (the {@code afterSeq}
     * asked for when the page is empty).
     */
    public record Page(List<byte[]> lines, long lastSeq) {

        public int count() {
            return lines.size();
        }

        /** Writes the lines, each followed by a newline. */
        public void writeTo(OutputStream out) throws IOException {
            for (byte[] line : lines) {
                out.write(line);
                out.write('\n');
            }
        }
    }

    // Two statements per log: a batch's lines are found through its index, the whole log through seq. One statement
    // with an optional batch would get a generic plan that walks the whole log for one batch. The other filters are
    // checked on the lines the walk meets, so a null parameter simply passes.
    private static final String LEDGER_PAGE = """
            select l.seq, l.line
            from ledger_line l
            where l.seq > ?
              and (cast(? as text[]) is null or l.status = any (cast(? as text[])))
              and (cast(? as timestamptz) is null or l.occurred_at >= ?)
              and (cast(? as timestamptz) is null or l.occurred_at < ?)
            order by l.seq
            limit ?""";

    private static final String LEDGER_PAGE_OF_BATCH = """
            select l.seq, l.line
            from ledger_line l
            where l.batch_id = ? and l.seq > ?
              and (cast(? as text[]) is null or l.status = any (cast(? as text[])))
              and (cast(? as timestamptz) is null or l.occurred_at >= ?)
              and (cast(? as timestamptz) is null or l.occurred_at < ?)
            order by l.seq
            limit ?""";

    private static final String EVENTS_PAGE = """
            select l.seq, l.line
            from event_line l
            where l.seq > ?
              and (cast(? as text[]) is null or l.status = any (cast(? as text[])))
              and (cast(? as timestamptz) is null or l.occurred_at >= ?)
              and (cast(? as timestamptz) is null or l.occurred_at < ?)
            order by l.seq
            limit ?""";

    private static final String EVENTS_PAGE_OF_BATCH = """
            select l.seq, l.line
            from event_line l
            where l.batch_id = ? and l.seq > ?
              and (cast(? as text[]) is null or l.status = any (cast(? as text[])))
              and (cast(? as timestamptz) is null or l.occurred_at >= ?)
              and (cast(? as timestamptz) is null or l.occurred_at < ?)
            order by l.seq
            limit ?""";

    /** The two logs, as export_trim names them. */
    public enum Log {
        LEDGER("ledger"), EVENTS("events");

        private final String wire;

        Log(String wire) {
            this.wire = wire;
        }

        public String wire() {
            return wire;
        }
    }

    /** A reader asked for lines after a seq that retention has trimmed past: resuming there would skip lines. */
    public static final class Trimmed extends RuntimeException {
        private final long throughSeq;

        public Trimmed(Log log, long afterSeq, long throughSeq) {
            super(explain(log, afterSeq, throughSeq));
            this.throughSeq = throughSeq;
        }

        /** What a reader resuming after {@code afterSeq} is told. */
        public static String explain(Log log, long afterSeq, long throughSeq) {
            return "the " + log.wire() + " lines up to seq " + throughSeq + " were removed by retention "
                    + "(atelier.retention.export-lines), so the lines after seq " + afterSeq + " are no longer all "
                    + "there; resume with after_seq=" + throughSeq + " to read from the oldest line kept";
        }

        public long throughSeq() {
            return throughSeq;
        }
    }

    private static final String TRIMMED_THROUGH = """
            select through_seq from export_trim where log = ?
            """;

    // Each round trims the oldest numbered lines while they are older than the cutoff, stopping at the first that is
    // not (the log's start, in seq order, so the kept lines have no hole), at most a page of them. The trim row is
    // locked for the round and skipped when another executor holds it: one trimmer at a time.
    private static final String TRIM_LEDGER = """
            with trim as materialized (select t.through_seq from export_trim t where t.log = 'ledger' for update skip locked),
            page as materialized (
                select l.seq, l.occurred_at < coalesce(?::timestamptz, now()) - make_interval(secs => ?) as old
                from ledger_line l, trim
                where l.seq > trim.through_seq
                order by l.seq
                limit ?),
            cut as materialized (
                select coalesce((select min(p.seq) - 1 from page p where not p.old), (select max(p.seq) from page p)) as seq),
            gone as (
                delete from ledger_line l using trim, cut
                where l.seq > trim.through_seq and l.seq <= cut.seq
                returning 1),
            moved as (
                update export_trim t set through_seq = cut.seq from trim, cut
                where t.log = 'ledger' and cut.seq > trim.through_seq)
            select count(*) from gone
            """;

    private static final String TRIM_EVENTS = """
            with trim as materialized (select t.through_seq from export_trim t where t.log = 'events' for update skip locked),
            page as materialized (
                select l.seq, l.occurred_at < coalesce(?::timestamptz, now()) - make_interval(secs => ?) as old
                from event_line l, trim
                where l.seq > trim.through_seq
                order by l.seq
                limit ?),
            cut as materialized (
                select coalesce((select min(p.seq) - 1 from page p where not p.old), (select max(p.seq) from page p)) as seq),
            gone as (
                delete from event_line l using trim, cut
                where l.seq > trim.through_seq and l.seq <= cut.seq
                returning 1),
            moved as (
                update export_trim t set through_seq = cut.seq from trim, cut
                where t.log = 'events' and cut.seq > trim.through_seq)
            select count(*) from gone
            """;

    /** Lines one trimming transaction removes at most, per log. */
    public static final int TRIM_ROUND = 5_000;

    private final DataSource dataSource;

    @Inject
    public ExportLog(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    /** Rows the driver fetches per round trip within a page. */
    private static final int FETCH = 500;

    /** Lines numbered per round and log; a larger backlog is numbered over several rounds. */
    public static final int NUMBERING_ROUND = 10_000;

    /**
     * Numbers export lines whose transactions have ended (one round); returns how many. Readers call it before each
     * page and the executors' maintenance calls it ({@link #numberNewLinesUnlessBusy()}), so lines are served soon after they commit.
     */
    public long numberNewLines() {
        return number(NUMBER_LINES);
    }

    /**
     * {@link #numberNewLines()}, unless another maintenance round is numbering now (then 0 at once). The executors'
     * maintenance calls this: 64 executors that each waited for the counter's lock spent 170 ms a call queued
     * behind each other, holding a pooled connection, for lines one of them numbers anyway.
     */
    public long numberNewLinesUnlessBusy() {
        return number(NUMBER_LINES_UNLESS_BUSY);
    }

    private static final String NUMBER_LINES = "select number_export_lines(?)";

    /** A transaction-scoped try-lock (safe behind a transaction-mode PgBouncer); readers still wait, as they must. */
    private static final String NUMBER_LINES_UNLESS_BUSY = """
            select case when pg_try_advisory_xact_lock(hashtext('atelier.number_export_lines'))
                        then number_export_lines(?) else 0 end""";

    private long number(String statement) {
        return Transactions.inTransaction(dataSource, "number export lines", c -> {
            try (PreparedStatement ps = c.prepareStatement(statement)) {
                ps.setInt(1, NUMBERING_ROUND);
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    return rs.getLong(1);
                }
            }
        });
    }

    /**
     * Up to {@code limit} ledger lines after {@code afterSeq}, oldest first.
     *
     * @throws Trimmed when retention has removed lines after {@code afterSeq}
     */
    public Page ledgerAfter(ExportFilter filter, long afterSeq, int limit) {
        return page("read ledger", Log.LEDGER, filter.batchId() == null ? LEDGER_PAGE : LEDGER_PAGE_OF_BATCH, filter,
                afterSeq, limit);
    }

    /**
     * Up to {@code limit} event lines after {@code afterSeq}, oldest first.
     *
     * @throws Trimmed when retention has removed lines after {@code afterSeq}
     */
    public Page eventsAfter(ExportFilter filter, long afterSeq, int limit) {
        return page("read events", Log.EVENTS, filter.batchId() == null ? EVENTS_PAGE : EVENTS_PAGE_OF_BATCH, filter,
                afterSeq, limit);
    }

    /** The seq up to which retention has removed every line of a log (0: none removed): where a full read starts. */
    public long trimmedThrough(Log log) {
        return Transactions.inTransaction(dataSource, "read trimmed seq", c -> trimmedThrough(c, log));
    }

    private static long trimmedThrough(Connection c, Log log) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(TRIMMED_THROUGH)) {
            ps.setString(1, log.wire());
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getLong(1) : 0;
            }
        }
    }

    /**
     * Removes, from the start of each log, the numbered lines older than {@code keep} (atelier.retention.export-lines),
     * one round of at most {@link #TRIM_ROUND} per log and transaction.
     *
     * @return how many lines were removed
     */
    public long trimOlderThan(java.time.Duration keep, Instant now) {
        long removed = 0;
        for (String statement : List.of(TRIM_LEDGER, TRIM_EVENTS)) {
            removed += Transactions.inTransaction(dataSource, "trim export lines", c -> {
                try (PreparedStatement ps = c.prepareStatement(statement)) {
                    Transactions.setTime(ps, 1, now);
                    ps.setDouble(2, keep.toMillis() / 1000.0);
                    ps.setInt(3, TRIM_ROUND);
                    try (ResultSet rs = ps.executeQuery()) {
                        rs.next();
                        return rs.getLong(1);
                    }
                }
            });
        }
        return removed;
    }

    private Page page(String what, Log log, String statement, ExportFilter filter, long afterSeq, int limit) {
        numberNewLines();
        return Transactions.inTransaction(dataSource, what, c -> {
            // one snapshot for the check and the page: a trim committed between them would otherwise make the page
            // start past lines the reader never saw, without a word
            JobViews.readOnlySnapshot(c);
            long through = trimmedThrough(c, log);
            if (afterSeq < through) {
                throw new Trimmed(log, afterSeq, through);
            }
            try (PreparedStatement ps = c.prepareStatement(statement)) {
                bind(c, ps, filter, afterSeq, limit);
                ps.setFetchSize(FETCH); // the driver holds a few hundred rows at a time, not the page twice
                try (ResultSet rs = ps.executeQuery()) {
                    List<byte[]> lines = new ArrayList<>(Math.min(limit, 10_000));
                    long lastSeq = afterSeq;
                    while (rs.next()) {
                        lastSeq = rs.getLong(1);
                        // a text column's bytes as the server sent them: UTF-8, the connection's encoding
                        lines.add(rs.getBytes(2));
                    }
                    return new Page(lines, lastSeq);
                }
            }
        });
    }

    private static void bind(Connection c, PreparedStatement ps, ExportFilter filter, long afterSeq, int limit)
            throws SQLException {
        int i = 1;
        if (filter.batchId() != null) {
            ps.setObject(i++, filter.batchId());
        }
        ps.setLong(i++, afterSeq);
        java.sql.Array statuses = filter.statuses() == null || filter.statuses().isEmpty()
                ? null : c.createArrayOf("text", filter.statuses().toArray());
        // each optional value is bound twice: once to test for null, once to compare
        for (int n = 0; n < 2; n++) {
            if (statuses == null) {
                ps.setNull(i++, Types.ARRAY);
            } else {
                ps.setArray(i++, statuses);
            }
        }
        for (Instant time : new Instant[] {filter.since(), filter.since(), filter.until(), filter.until()}) {
            Transactions.setTime(ps, i++, time);
        }
        ps.setInt(i, limit);
    }
}
