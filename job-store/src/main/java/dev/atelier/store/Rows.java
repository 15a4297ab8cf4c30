package dev.atelier.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/** Small helpers the job statements' classes share: reading ids and states, binding "now", waking claimers. */
final class Rows {

    private Rows() {
    }

    static boolean jobExists(Connection c, UUID jobId) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("select 1 from job where id = ?")) {
            ps.setObject(1, jobId);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next();
            }
        }
    }

    /** Wakes idle executors when the transaction commits. */
    static void notifyWork(Connection c) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("select pg_notify(?, '')")) {
            ps.setString(1, QueueSignals.WORK_CHANNEL);
            ps.execute();
        }
    }

    static void setNow(PreparedStatement ps, int index, Instant now) throws SQLException {
        Transactions.setTime(ps, index, now);
    }

    static Instant instant(ResultSet rs, String column) throws SQLException {
        OffsetDateTime value = rs.getObject(column, OffsetDateTime.class);
        return value == null ? null : value.toInstant();
    }

    static Map<UUID, JobState> readStates(PreparedStatement ps) throws SQLException {
        Map<UUID, JobState> states = new HashMap<>();
        try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                states.put(rs.getObject(1, UUID.class), JobState.fromWire(rs.getString(2)));
            }
        }
        return states;
    }

    static Set<UUID> readIds(PreparedStatement ps) throws SQLException {
        Set<UUID> ids = new HashSet<>();
        try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                ids.add(rs.getObject(1, UUID.class));
            }
        }
        return ids;
    }

    static String nullToEmpty(String value) {
        return value == null ? "" : value;
    }

    /** Runs a hand-back and reads the jobs' new states; wakes the claimers when any went back to pending. */
    static Map<UUID, JobState> readHandedBack(Connection c, PreparedStatement ps) throws SQLException {
        Map<UUID, JobState> back = readStates(ps);
        if (back.containsValue(JobState.PENDING)) {
            notifyWork(c);
        }
        return back;
    }
}
