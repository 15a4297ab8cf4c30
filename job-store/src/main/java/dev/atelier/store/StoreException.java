package dev.atelier.store;

import java.sql.SQLException;

/** A database failure below the queue operations; the operation's transaction was rolled back. */
public class StoreException extends RuntimeException {
    public StoreException(String message, SQLException cause) {
        super(message + ": " + cause.getMessage(), cause);
    }
}
