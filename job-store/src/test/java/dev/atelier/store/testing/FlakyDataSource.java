package dev.atelier.store.testing;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import javax.sql.DataSource;

/**
 * A real database behind connections that fail the ways a PostgreSQL restart or a network cut makes them fail, on
 * cue: new connections refused while the database is "down", or the answer to a commit that went through lost
 * (the server committed, then the connection broke before the client heard so).
 */
public final class FlakyDataSource {

    private final DataSource target;
    private volatile boolean down;
    private final AtomicInteger refused = new AtomicInteger();
    private final AtomicBoolean loseNextCommitAnswer = new AtomicBoolean();

    public FlakyDataSource(DataSource target) {
        this.target = target;
    }

    /** The data source to hand to the code under test. */
    public DataSource dataSource() {
        return (DataSource) Proxy.newProxyInstance(DataSource.class.getClassLoader(), new Class<?>[] {DataSource.class},
                (proxy, method, args) -> {
                    if (method.getName().equals("getConnection")) {
                        if (down) {
                            refused.incrementAndGet();
                            throw new SQLException("Connection refused (the test took the database down)", "08001");
                        }
                        return connection((Connection) invoke(target, method, args));
                    }
                    return invoke(target, method, args);
                });
    }

    /** From now on, new connections are refused (true) or made again (false). */
    public void down(boolean down) {
        this.down = down;
    }

    /** How many connections were refused so far. */
    public int refused() {
        return refused.get();
    }

    /** The next commit, on any connection, goes through on the server, and then its connection breaks. */
    public void loseNextCommitAnswer() {
        loseNextCommitAnswer.set(true);
    }

    private Connection connection(Connection real) {
        return (Connection) Proxy.newProxyInstance(Connection.class.getClassLoader(), new Class<?>[] {Connection.class},
                (proxy, method, args) -> {
                    Object result = invoke(real, method, args);
                    if (method.getName().equals("commit") && loseNextCommitAnswer.compareAndSet(true, false)) {
                        real.close();
                        throw new SQLException("An I/O error occurred while sending to the backend"
                                + " (the test broke the connection after the commit)", "08006");
                    }
                    return result;
                });
    }

    private static Object invoke(Object target, Method method, Object[] args) throws Throwable {
        try {
            return method.invoke(target, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }
}
