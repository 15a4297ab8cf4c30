package dev.atelier.store;

import java.sql.SQLException;

/** A database failure below the queue operations; the operation's transaction was rolled back. */
public class StoreException extends RuntimeException {

    private final String sqlState;

    public StoreException(String message, SQLException cause) {
        super(message + ": " + cause.getMessage(), cause);
        this.sqlState = cause.getSQLState();
    }

    /** The SQLSTATE PostgreSQL (or the driver) gave, or null when there was none (a pool timeout, say). */
    public String sqlState() {
        return sqlState;
    }

    /**
     * Whether the same work may succeed if tried again as it is: the connection was lost (class 08), the server is
     * shutting down or restarting (57P01-57P03), a serialization failure or deadlock (40001, 40P01), the server ran
     * short of a resource (class 53: connections, memory, disk), or the failure never reached the server (no
     * SQLSTATE: the pool could not lend a connection in time), or I/O outside the database failed (58030: the object
     * store, a file being stored). Anything else is about the data sent (class 22, 23,
     * 54 and the like) and fails again the same way.
     */
    public boolean isTransient() {
        if (sqlState == null) {
            return true;
        }
        return sqlState.startsWith("08") || sqlState.startsWith("53") || sqlState.equals("57P01")
                || sqlState.equals("57P02") || sqlState.equals("57P03") || sqlState.equals("40001")
                || sqlState.equals("40P01") || sqlState.equals("58030");
    }
}
