package dev.atelier.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Instant;
import java.time.ZoneOffset;
import javax.sql.DataSource;

/**
 * Runs plain JDBC work in its own transaction. The queue operations commit themselves, so callers
 * must not wrap them in a JTA transaction.
 */
final class Transactions {

    interface Work<T> {
        T run(Connection connection) throws SQLException;
    }

    private Transactions() {
    }

    static <T> T inTransaction(DataSource dataSource, String operation, Work<T> work) {
        try (Connection connection = dataSource.getConnection()) {
            boolean autoCommit = connection.getAutoCommit();
            connection.setAutoCommit(false);
            try {
                T result = work.run(connection);
                connection.commit();
                return result;
            } catch (SQLException | RuntimeException e) {
                connection.rollback();
                throw e;
            } finally {
                connection.setAutoCommit(autoCommit);
            }
        } catch (SQLException e) {
            throw new StoreException(operation + " failed", e);
        }
    }

    /** Binds a time, or SQL null (the statements read it as {@code coalesce(?, now())}: the database clock). */
    static void setTime(PreparedStatement ps, int index, Instant time) throws SQLException {
        if (time == null) {
            ps.setNull(index, Types.TIMESTAMP_WITH_TIMEZONE);
        } else {
            ps.setObject(index, time.atOffset(ZoneOffset.UTC));
        }
    }
}
