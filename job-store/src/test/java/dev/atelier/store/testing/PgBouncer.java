package dev.atelier.store.testing;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Debian's PgBouncer ({@code apt-get install pgbouncer}, 1.18 on Debian 12) in transaction mode in front of a test
 * PostgreSQL, as a studio puts it in front of its executors: each transaction borrows a server connection, no session
 * outlives it (no prepared statements, no LISTEN, no session advisory locks). Run as root it drops to {@code nobody}
 * (PgBouncer refuses to run as root), so its files live in a world-readable directory of their own under the
 * system's temporary directory (a clone under {@code /root} is closed to {@code nobody}).
 */
public final class PgBouncer implements AutoCloseable {

    private static final Path BINARY = Path.of("/usr/sbin/pgbouncer");

    private final Process process;
    private final int port;
    private final Path log;

    private PgBouncer(Process process, int port, Path log) {
        this.process = process;
        this.port = port;
        this.log = log;
    }

    /** Whether Debian's package is installed here. */
    public static boolean installed() {
        return Files.isExecutable(BINARY);
    }

    /** Starts PgBouncer in front of the server of {@code database}, with 10 server connections per database. */
    public static PgBouncer start(TestPostgres.Database database) throws IOException, InterruptedException {
        return start(database.jdbcUrl(), database.username(), 10);
    }

    /**
     * Starts PgBouncer in front of the server of {@code jdbcUrl} (trusting {@code username}), with
     * {@code serverConnections} per database and user (its {@code default_pool_size}).
     */
    public static PgBouncer start(String jdbcUrl, String username, int serverConnections)
            throws IOException, InterruptedException {
        if (!installed()) {
            throw new IllegalStateException(BINARY + " is missing: apt-get install pgbouncer (.ci/run does)");
        }
        URI server = URI.create(jdbcUrl.substring("jdbc:".length()));
        int port;
        try (ServerSocket free = new ServerSocket(0)) {
            port = free.getLocalPort();
        }
        Path directory = Files.createTempDirectory("atelier-pgbouncer-");
        directory.toFile().setReadable(true, false);
        directory.toFile().setExecutable(true, false);
        Path users = directory.resolve("users.txt");
        Files.writeString(users, "\"" + username + "\" \"\"\n", StandardCharsets.UTF_8);
        users.toFile().setReadable(true, false);
        Path config = directory.resolve("pgbouncer.ini");
        Files.writeString(config, String.join("\n",
                "[databases]",
                "* = host=" + server.getHost() + " port=" + server.getPort(),
                "[pgbouncer]",
                "listen_addr = 127.0.0.1",
                "listen_port = " + port,
                "unix_socket_dir =",
                "auth_type = trust",
                "auth_file = " + users.toAbsolutePath(),
                "pool_mode = transaction",
                "max_client_conn = 1000",
                "default_pool_size = " + serverConnections,
                // pgjdbc sends it at every start; PgBouncer would refuse the connection over a parameter it does not keep
                "ignore_startup_parameters = extra_float_digits",
                ""), StandardCharsets.UTF_8);
        config.toFile().setReadable(true, false);
        boolean root = "root".equals(System.getProperty("user.name"));
        ProcessBuilder builder = root
                ? new ProcessBuilder(BINARY.toString(), "-u", "nobody", config.toAbsolutePath().toString())
                : new ProcessBuilder(BINARY.toString(), config.toAbsolutePath().toString());
        Process process = builder.redirectErrorStream(true).redirectOutput(directory.resolve("pgbouncer.log").toFile())
                .start();
        PgBouncer bouncer = new PgBouncer(process, port, directory.resolve("pgbouncer.log"));
        bouncer.awaitListening(Duration.ofSeconds(20));
        return bouncer;
    }

    /**
     * A JDBC URL of {@code database} through PgBouncer. pgjdbc names a statement it has run five times and prepares it
     * on the server connection of that moment, which transaction mode hands to others: {@code prepareThreshold=0}.
     */
    public String jdbcUrl(String database) {
        return "jdbc:postgresql://127.0.0.1:" + port + "/" + database + "?prepareThreshold=0";
    }

    /**
     * Client logins PgBouncer let through to {@code database}, from its log. (Its admin console would count
     * transactions, but pgjdbc sends it a SET, which the console refuses.)
     */
    public long logins(String database) throws IOException {
        try (var lines = Files.lines(log, StandardCharsets.UTF_8)) {
            return lines.filter(line -> line.contains("login attempt: db=" + database + " ")).count();
        }
    }

    private void awaitListening(Duration atMost) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + atMost.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException("PgBouncer stopped: "
                        + Files.readString(log, StandardCharsets.UTF_8));
            }
            try (Socket probe = new Socket()) {
                probe.connect(new InetSocketAddress("127.0.0.1", port), 200);
                return;
            } catch (IOException notYet) {
                Thread.sleep(50);
            }
        }
        throw new IllegalStateException("PgBouncer did not listen on " + port + " within " + atMost);
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) {
            process.destroyForcibly();
        }
    }
}
