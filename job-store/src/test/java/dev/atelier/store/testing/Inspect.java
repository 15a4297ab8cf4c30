package dev.atelier.store.testing;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import javax.sql.DataSource;

/** Reads rows back for assertions. */
public final class Inspect {

    private final DataSource dataSource;

    public Inspect(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    public record JobRow(UUID id, String state, int attempt, int attemptsUsed, OffsetDateTime runAfter,
                         UUID leaseToken, String error, String result, String waitingReason,
                         OffsetDateTime cancelRequestedAt, OffsetDateTime finishedAt, int handBacksInRow) {
    }

    public record AttemptRow(int attempt, String status, String executorId, String error, UUID leaseToken) {
    }

    public JobRow job(UUID id) {
        return query("""
                select id, state, attempt, attempts_used, run_after, lease_token, error, result::text, waiting_reason,
                       cancel_requested_at, finished_at, hand_backs_in_row
                from job where id = ?""", id, rs -> new JobRow(rs.getObject(1, UUID.class), rs.getString(2),
                rs.getInt(3), rs.getInt(4), rs.getObject(5, OffsetDateTime.class), rs.getObject(6, UUID.class),
                rs.getString(7), rs.getString(8), rs.getString(9), rs.getObject(10, OffsetDateTime.class),
                rs.getObject(11, OffsetDateTime.class), rs.getInt(12))).stream().findFirst().orElseThrow();
    }

    public List<AttemptRow> attempts(UUID jobId) {
        return query("select attempt, status, executor_id, error, lease_token from attempt where job_id = ? order by attempt",
                jobId, rs -> new AttemptRow(rs.getInt(1), rs.getString(2), rs.getString(3), rs.getString(4),
                        rs.getObject(5, UUID.class)));
    }

    public List<String> eventStatuses(UUID jobId) {
        return query("select status from event_line where job_id = ? order by id", jobId, rs -> rs.getString(1));
    }

    public List<String> ledgerStatuses(UUID jobId) {
        return query("select status from ledger_line where job_id = ? order by id", jobId, rs -> rs.getString(1));
    }

    /** Runs a statement that changes rows (test setup), with its parameters bound in order. */
    public int execute(String sql, Object... parameters) {
        try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
            for (int i = 0; i < parameters.length; i++) {
                ps.setObject(i + 1, parameters[i]);
            }
            return ps.executeUpdate();
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    public long count(String sql) {
        try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement(sql);
             ResultSet rs = ps.executeQuery()) {
            rs.next();
            return rs.getLong(1);
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A time a query gives (its first column of its first row). */
    public java.time.Instant instant(String sql) {
        try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement(sql);
             ResultSet rs = ps.executeQuery()) {
            rs.next();
            return rs.getObject(1, java.time.OffsetDateTime.class).toInstant();
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The first column of every row of a query with one id parameter. */
    public List<String> strings(String sql, UUID id) {
        return query(sql, id, rs -> rs.getString(1));
    }

    interface Row<T> {
        T map(ResultSet rs) throws SQLException;
    }

    private <T> List<T> query(String sql, UUID id, Row<T> row) {
        try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setObject(1, id);
            List<T> out = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add(row.map(rs));
                }
            }
            return out;
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }
}
