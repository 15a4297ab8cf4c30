package dev.atelier.store.testing;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicInteger;
import org.flywaydb.core.Flyway;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * The tests' own PostgreSQL: an embedded PostgreSQL 17 started once per test JVM, or, when
 * {@code ATELIER_TEST_JDBC_URL} names a server on purpose, that server. Either way every test gets a database of
 * its own, created from a migrated template and dropped at the end, so a test can never touch a user's data.
 * {@code quarkus.datasource.*} in the environment is never read here.
 */
public final class TestPostgres {

    public static final String EXTERNAL_URL_VARIABLE = "ATELIER_TEST_JDBC_URL";
    private static final String TEMPLATE = "atelier_test_template";
    private static final AtomicInteger COUNTER = new AtomicInteger();
    private static TestPostgres instance;

    private final String adminUrl;
    private final Properties adminProperties;
    private final String runId = Long.toString(ProcessHandle.current().pid());
    private final List<String> created = new ArrayList<>();
    private final EmbeddedPostgres embedded;

    /** A database of a test's own. */
    public record Database(String name, String jdbcUrl, String username, String password) {
        public PGSimpleDataSource dataSource() {
            PGSimpleDataSource dataSource = new PGSimpleDataSource();
            dataSource.setUrl(jdbcUrl);
            dataSource.setUser(username);
            dataSource.setPassword(password);
            return dataSource;
        }
    }

    private TestPostgres() throws IOException, SQLException {
        String external = System.getenv(EXTERNAL_URL_VARIABLE);
        if (external != null && !external.isBlank()) {
            embedded = null;
            adminUrl = external;
        } else {
            embedded = EmbeddedPostgres.builder()
                    // test speed, not durability: the data dies with the test JVM
                    .setServerConfig("fsync", "off")
                    .setServerConfig("synchronous_commit", "off")
                    .setServerConfig("full_page_writes", "off")
                    .setServerConfig("max_connections", "300")
                    .start();
            adminUrl = embedded.getJdbcUrl("postgres", "postgres");
        }
        adminProperties = new Properties();
        Runtime.getRuntime().addShutdownHook(new Thread(this::shutdown, "test-postgres-shutdown"));
        createTemplate();
    }

    public static synchronized TestPostgres get() {
        if (instance == null) {
            try {
                instance = new TestPostgres();
            } catch (IOException | SQLException e) {
                throw new IllegalStateException("could not start the test PostgreSQL", e);
            }
        }
        return instance;
    }

    /** A new, migrated, empty database. */
    public synchronized Database newDatabase() {
        String name = "atelier_test_" + runId + "_" + COUNTER.incrementAndGet();
        execute("create database " + name + " template " + templateName());
        created.add(name);
        return database(name);
    }

    /** A new database without the schema, for tests of the migrations themselves. */
    public synchronized Database newEmptyDatabase() {
        String name = "atelier_test_" + runId + "_" + COUNTER.incrementAndGet();
        execute("create database " + name);
        created.add(name);
        return database(name);
    }

    /** The server's major version, e.g. 17. */
    public int serverMajorVersion() {
        try (Connection c = admin(); Statement s = c.createStatement();
             var rs = s.executeQuery("show server_version_num")) {
            rs.next();
            return Integer.parseInt(rs.getString(1)) / 10000;
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    private String templateName() {
        return TEMPLATE + "_" + runId;
    }

    private void createTemplate() {
        String name = templateName();
        execute("drop database if exists " + name);
        execute("create database " + name);
        created.add(name);
        Database template = database(name);
        Flyway.configure().dataSource(template.dataSource()).load().migrate();
    }

    private Database database(String name) {
        try (Connection c = admin()) {
            String url = c.getMetaData().getURL();
            String user = c.getMetaData().getUserName();
            // point the admin URL at the new database, keeping host, port and parameters
            String withDb = url.replaceFirst("(jdbc:postgresql://[^/]*/)[^?]*", "$1" + name);
            String password = passwordOf(adminUrl);
            return new Database(name, withDb, user, password);
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String passwordOf(String url) {
        int at = url.indexOf("password=");
        if (at < 0) {
            return null;
        }
        String rest = url.substring(at + "password=".length());
        int end = rest.indexOf('&');
        return end < 0 ? rest : rest.substring(0, end);
    }

    private Connection admin() throws SQLException {
        return DriverManager.getConnection(adminUrl, adminProperties);
    }

    private void execute(String sql) {
        try (Connection c = admin(); Statement s = c.createStatement()) {
            s.execute(sql);
        } catch (SQLException e) {
            throw new IllegalStateException(sql + ": " + e.getMessage(), e);
        }
    }

    private void shutdown() {
        try {
            if (embedded != null) {
                embedded.close();
                return;
            }
            // an external server outlives us: leave nothing behind on it
            for (String name : created) {
                try (Connection c = admin(); Statement s = c.createStatement()) {
                    s.execute("drop database if exists " + name + " with (force)");
                }
            }
        } catch (IOException | SQLException e) {
            System.err.println("test PostgreSQL cleanup: " + e.getMessage());
        }
    }
}
