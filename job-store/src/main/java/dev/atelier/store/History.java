package dev.atelier.store;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import javax.sql.DataSource;

/**
 * The dashboard's history (V21__history.sql): a point per minute per series, sampled by the ledger and read back
 * for the last hours. What each series counts is in the migration.
 */
@ApplicationScoped
public class History {

    /** The series, as the schema's check constraint names them. */
    public enum Series {
        FINISHED, WAITING, RUNNING, UTILISATION;

        public String wire() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }

        static Series fromWire(String wire) {
            return valueOf(wire.toUpperCase(java.util.Locale.ROOT));
        }
    }

    /** One point: a series, its label (a state, a backend kind or an executor), the minute, and its value. */
    public record Point(Series series, String label, Instant at, double value) {
    }

    private final DataSource dataSource;

    @Inject
    public History(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    // One sample, for the minute that just ended ($1, its start). Finished: the export lines of that minute (every
    // state present, zeros included, so a chart shows an idle minute as 0 and not as a gap). Waiting and running: the
    // folded totals per kind now. Utilisation: each executor live at $2 (seen within $3 seconds), busy over offered
    // slots. A minute another ledger replica sampled first keeps its points.
    private static final String SAMPLE = """
            with minute as (select ?::timestamptz as at),
            finished as (
                select 'finished' as series, s.status as label, m.at,
                       (select count(*) from ledger_line l
                        where l.status = s.status and l.occurred_at >= m.at and l.occurred_at < m.at + interval '1 minute')::float8 as value
                from minute m, unnest(array['success', 'failed', 'cancelled']) as s(status)),
            queued as (
                select case when t.state = 'running' then 'running' else 'waiting' end as series, t.kind as label, m.at,
                       sum(t.jobs)::float8 as value
                from job_total t, minute m
                where t.state in ('pending', 'retry', 'running')
                group by 1, 2, 3),
            busy as (
                select 'utilisation' as series, e.id as label, m.at,
                       (select coalesce(sum(b.value::int), 0) from jsonb_each_text(e.busy) b)::float8
                       / greatest((select coalesce(sum(s.value::int), 0) from jsonb_each_text(e.slots) s), 1) as value
                from executor e, minute m
                where e.last_seen_at >= ?::timestamptz - make_interval(secs => ?))
            insert into history_point (series, label, at, value)
            select * from finished
            union all select * from queued
            union all select * from busy
            on conflict (series, label, at) do nothing
            """;

    private static final String PRUNE = """
            delete from history_point where at < ?
            """;

    private static final String READ = """
            select series, label, at, value from history_point
            where at >= ? and at <= ?
            order by series, label, at
            """;

    /**
     * Samples the minute before {@code now}'s minute, and forgets points older than {@code keep}.
     *
     * @return how many points were written (0 when another replica sampled that minute first)
     */
    public int sample(Instant now, Duration liveWindow, Duration keep) {
        Instant minute = now.truncatedTo(ChronoUnit.MINUTES).minus(Duration.ofMinutes(1));
        return Transactions.inTransaction(dataSource, "sample history", c -> {
            int written;
            try (PreparedStatement ps = c.prepareStatement(SAMPLE)) {
                Transactions.setTime(ps, 1, minute);
                Transactions.setTime(ps, 2, now);
                ps.setDouble(3, liveWindow.toMillis() / 1000.0);
                written = ps.executeUpdate();
            }
            try (PreparedStatement ps = c.prepareStatement(PRUNE)) {
                Transactions.setTime(ps, 1, now.minus(keep));
                ps.executeUpdate();
            }
            return written;
        });
    }

    /** The points from {@code from} to {@code to}, by series, label and time. */
    public List<Point> read(Instant from, Instant to) {
        return Transactions.inTransaction(dataSource, "read history", c -> {
            JobViews.readOnlySnapshot(c);
            List<Point> points = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement(READ)) {
                Transactions.setTime(ps, 1, from);
                Transactions.setTime(ps, 2, to);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        points.add(new Point(Series.fromWire(rs.getString(1)), rs.getString(2),
                                rs.getObject(3, OffsetDateTime.class).toInstant(), rs.getDouble(4)));
                    }
                }
            }
            return points;
        });
    }
}
