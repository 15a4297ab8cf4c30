package dev.atelier.system;

import dev.atelier.store.testing.TestPostgres;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Comparator;

/**
 * A PostgreSQL of the system tests' own that can be stopped and started again on the same port and data directory,
 * as a database restart or failover looks to the services. The services create the schema (Flyway at start).
 */
final class RestartablePostgres implements AutoCloseable {

    private static final String DATABASE = "atelier";

    private final Path dataDirectory;
    private final int port;
    private EmbeddedPostgres server;

    RestartablePostgres(Path dataDirectory) throws IOException, SQLException {
        this.dataDirectory = dataDirectory;
        if (Files.exists(dataDirectory)) {
            try (var files = Files.walk(dataDirectory)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
        Files.createDirectories(dataDirectory);
        try (ServerSocket free = new ServerSocket(0)) {
            port = free.getLocalPort();
        }
        start();
        try (Connection c = DriverManager.getConnection(server.getJdbcUrl("postgres", "postgres"));
             Statement s = c.createStatement()) {
            s.execute("create database " + DATABASE);
        }
    }

    /** Starts the server on the kept data directory. */
    synchronized void start() throws IOException {
        server = EmbeddedPostgres.builder()
                .setDataDirectory(dataDirectory)
                .setCleanDataDirectory(false)
                .setPort(port)
                // test speed: a clean stop still checkpoints, so a restart loses nothing
                .setServerConfig("fsync", "off")
                .setServerConfig("synchronous_commit", "off")
                .setServerConfig("full_page_writes", "off")
                .setServerConfig("max_connections", "200")
                .start();
    }

    /** Stops the server (fast shutdown: every session is cut off, as in a restart). */
    synchronized void stop() throws IOException {
        if (server != null) {
            server.close();
            server = null;
        }
    }

    TestPostgres.Database database() {
        return new TestPostgres.Database(DATABASE, "jdbc:postgresql://localhost:" + port + "/" + DATABASE,
                "postgres", "");
    }

    @Override
    public void close() throws IOException {
        stop();
    }
}
