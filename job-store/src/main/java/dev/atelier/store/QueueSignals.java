package dev.atelier.store;

import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import javax.sql.DataSource;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;

/**
 * A connection that LISTENs to the queue's channels ({@link #WORK_CHANNEL}, {@link #CANCEL_CHANNEL}).
 * It holds one connection of the pool for as long as it is open. After a failure, close it and open a new one;
 * the caller must not rely on signals alone (they are lost while no one listens), so executors also poll.
 */
public final class QueueSignals implements AutoCloseable {

    /**
     * NOTIFY channel: new claimable work. The payload is empty, or the id of the executor that made the work
     * claimable by storing an outcome and looks for it itself right after commit, so it need not be woken.
     */
    public static final String WORK_CHANNEL = "atelier_work";
    /** PostgreSQL refuses a NOTIFY payload of 8,000 bytes or more, which would fail the transaction sending it. */
    private static final int MAX_PAYLOAD_BYTES = 7_999;
    /** NOTIFY channel: a running job was asked to cancel. The payload is the job id. */
    public static final String CANCEL_CHANNEL = "atelier_cancel";

    /**
     * The {@link #WORK_CHANNEL} payload that names this executor: empty (every executor wakes) for an id too long to
     * send, so that an absurd {@code atelier.executor.id} costs a wake-up, never the completion carrying it.
     */
    public static String workPayload(String executorId) {
        return executorId.getBytes(StandardCharsets.UTF_8).length <= MAX_PAYLOAD_BYTES ? executorId : "";
    }

    /** One NOTIFY: its channel and payload. */
    public record Signal(String channel, String payload) {
    }

    private final Connection connection;
    private final PGConnection listener;

    private QueueSignals(Connection connection) throws SQLException {
        this.connection = connection;
        this.listener = connection.unwrap(PGConnection.class);
    }

    public static QueueSignals open(DataSource dataSource) {
        Connection connection = null;
        try {
            connection = dataSource.getConnection();
            connection.setAutoCommit(true);
            try (Statement st = connection.createStatement()) {
                st.execute("listen " + WORK_CHANNEL);
                st.execute("listen " + CANCEL_CHANNEL);
            }
            return new QueueSignals(connection);
        } catch (SQLException e) {
            closeQuietly(connection);
            throw new StoreException("listen failed", e);
        }
    }

    /** Waits up to {@code timeout} for signals; returns at once with those already received. */
    public List<Signal> await(Duration timeout) {
        try {
            PGNotification[] received = listener.getNotifications((int) Math.max(1, timeout.toMillis()));
            List<Signal> signals = new ArrayList<>();
            if (received != null) {
                for (PGNotification n : received) {
                    signals.add(new Signal(n.getName(), n.getParameter()));
                }
            }
            return signals;
        } catch (SQLException e) {
            throw new StoreException("waiting for signals failed", e);
        }
    }

    /** Stops listening (the connection goes back to the pool) and closes. */
    @Override
    public void close() {
        try {
            if (!connection.isClosed()) {
                try (Statement st = connection.createStatement()) {
                    st.execute("unlisten *");
                }
            }
        } catch (SQLException ignored) {
            // a broken connection listens to nothing
        }
        closeQuietly(connection);
    }

    private static void closeQuietly(Connection connection) {
        if (connection != null) {
            try {
                connection.close();
            } catch (SQLException ignored) {
                // the connection is gone either way
            }
        }
    }
}
