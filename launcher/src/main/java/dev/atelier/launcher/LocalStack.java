package dev.atelier.launcher;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The local run: PostgreSQL with its data kept in {@code .atelier/postgres}, then the gateway (8080), the ledger
 * (8081) and the executor (8082) as separate processes, exactly as packaged. Ctrl-C stops the services first, so
 * executors hand their jobs back, then PostgreSQL.
 */
public final class LocalStack implements AutoCloseable {

    /** Where things are and which ports to use. */
    public record Settings(Path root, Path dataDirectory, int postgresPort, Map<String, Integer> servicePorts,
                           Map<String, String> extraEnvironment) {

        static Settings fromEnvironment(Path root) {
            Map<String, Integer> ports = new LinkedHashMap<>();
            ports.put("gateway", intEnv("ATELIER_GATEWAY_PORT", 8080));
            ports.put("ledger", intEnv("ATELIER_LEDGER_PORT", 8081));
            ports.put("executor", intEnv("ATELIER_EXECUTOR_PORT", 8082));
            String data = System.getenv().getOrDefault("ATELIER_DATA_DIR", root.resolve(".atelier").toString());
            return new Settings(root, Path.of(data), intEnv("ATELIER_POSTGRES_PORT", 54329), ports, Map.of());
        }
    }

    private static final String DATABASE = "atelier";
    private static final Duration READY_TIMEOUT = Duration.ofSeconds(120);

    private final Settings settings;
    private final PrintStream out;
    private final List<Process> services = new ArrayList<>();
    private EmbeddedPostgres postgres;
    private final Map<String, String> postgresSettings = new LinkedHashMap<>();
    private volatile boolean stopping;

    public LocalStack(Settings settings, PrintStream out) {
        this.settings = settings;
        this.out = out;
    }

    public static void main(String[] args) throws Exception {
        // initdb and the server log every line at INFO through zonky; warnings and errors still show
        System.setProperty("org.slf4j.simpleLogger.log.io.zonky", "warn");
        Path root = Path.of(args.length > 0 ? args[0] : ".").toAbsolutePath().normalize();
        Settings settings = Settings.fromEnvironment(root);
        // zonky's builder makes its default working directory in /tmp even when it is overridden
        System.setProperty("ot.epg.working-dir", settings.dataDirectory().resolve("pg-binaries").toString());
        LocalStack stack = new LocalStack(settings, System.out);
        Runtime.getRuntime().addShutdownHook(new Thread(stack::close, "atelier-stop"));
        try {
            stack.start();
        } catch (Exception e) {
            System.err.println("Atelier did not start: " + e.getMessage());
            System.exit(1);
        }
        stack.out.println("Ctrl-C stops Atelier; the data stays in " + stack.settings.dataDirectory());
        int exit = stack.awaitAnyServiceExit();
        if (stack.stopping) {
            return; // Ctrl-C: the shutdown hook is stopping everything
        }
        System.err.println("a service stopped on its own (exit " + exit + "); stopping Atelier");
        System.exit(1);
    }

    /** A server setting on top of the durable ones (the bench's profile mode loads pg_stat_statements); before start. */
    public void postgresSetting(String key, String value) {
        postgresSettings.put(key, value);
    }

    /** Starts PostgreSQL and the services, and returns once every service is ready. */
    public void start() throws IOException, SQLException, InterruptedException {
        long started = System.nanoTime();
        Path pgData = settings.dataDirectory().resolve("postgres");
        Files.createDirectories(pgData);
        EmbeddedPostgres.Builder builder = EmbeddedPostgres.builder();
        postgresSettings.forEach(builder::setServerConfig);
        postgres = builder
                .setDataDirectory(pgData)
                .setCleanDataDirectory(false)
                // stopped by close(), after the services, never before them
                .setRegisterShutdownHook(false)
                .setPort(settings.postgresPort())
                // zonky's defaults trade durability for test speed; this data is the user's
                .setServerConfig("fsync", "on")
                .setServerConfig("synchronous_commit", "on")
                .setServerConfig("full_page_writes", "on")
                .setOverrideWorkingDirectory(settings.dataDirectory().resolve("pg-binaries").toFile())
                .start();
        createDatabaseIfMissing();
        String jdbcUrl = jdbcUrl();
        out.println("PostgreSQL: " + jdbcUrl + " (user postgres), data in " + pgData);

        for (Map.Entry<String, Integer> service : settings.servicePorts().entrySet()) {
            services.add(launch(service.getKey(), service.getValue(), jdbcUrl));
        }
        for (Map.Entry<String, Integer> service : settings.servicePorts().entrySet()) {
            awaitReady(service.getKey(), service.getValue());
        }
        out.printf("Atelier is up in %.1f s: %s%n", (System.nanoTime() - started) / 1e9,
                String.join(", ", settings.servicePorts().entrySet().stream()
                        .map(e -> e.getKey() + " http://localhost:" + e.getValue()).toList()));
        out.println(listenHost().equals("127.0.0.1")
                ? "Listening on 127.0.0.1 only, without authentication; QUARKUS_HTTP_HOST=0.0.0.0 opens it to the network"
                : "Listening on " + listenHost() + " WITHOUT AUTHENTICATION: anyone who can reach it may submit and cancel");
    }

    private static String listenHost() {
        return System.getenv().getOrDefault("QUARKUS_HTTP_HOST", "127.0.0.1");
    }

    private void createDatabaseIfMissing() throws SQLException {
        try (Connection c = DriverManager.getConnection(postgres.getJdbcUrl("postgres", "postgres"));
             Statement s = c.createStatement()) {
            try (ResultSet rs = s.executeQuery("select 1 from pg_database where datname = '" + DATABASE + "'")) {
                if (rs.next()) {
                    return;
                }
            }
            s.execute("create database " + DATABASE);
        }
    }

    private Process launch(String name, int port, String jdbcUrl) throws IOException {
        Path jar = settings.root().resolve(name + "-service/target/quarkus-app/quarkus-run.jar");
        if (!Files.exists(jar)) {
            throw new IOException(jar + " is missing: build first (./mvnw package -DskipTests)");
        }
        ProcessBuilder builder = new ProcessBuilder(javaBinary(), "-jar", jar.toString())
                .directory(settings.root().toFile())
                .redirectErrorStream(true);
        Map<String, String> env = builder.environment();
        env.put("QUARKUS_DATASOURCE_JDBC_URL", jdbcUrl);
        env.put("QUARKUS_DATASOURCE_USERNAME", "postgres");
        env.put("QUARKUS_DATASOURCE_PASSWORD", "");
        env.put("QUARKUS_HTTP_PORT", Integer.toString(port));
        // a local run is a developer's: the dev profile (no bearer tokens) on the packaged applications, so it listens
        // on this machine only, unless told otherwise (QUARKUS_HTTP_HOST=0.0.0.0): nobody else on the network may submit
        env.putIfAbsent("QUARKUS_PROFILE", "dev");
        env.putIfAbsent("QUARKUS_HTTP_HOST", listenHost());
        env.putIfAbsent("QUARKUS_MANAGEMENT_HOST", listenHost()); // the executor's /drain
        env.putAll(settings.extraEnvironment());
        Process process = builder.start();
        Thread copier = new Thread(() -> prefixLines(name, process), name + "-output");
        copier.setDaemon(true);
        copier.start();
        return process;
    }

    private void prefixLines(String name, Process process) {
        String prefix = String.format("[%-8s] ", name);
        try (BufferedReader reader = new BufferedReader(
                new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = reader.readLine()) != null) {
                out.println(prefix + line);
            }
        } catch (IOException ignored) {
            // the process ended
        }
    }

    private void awaitReady(String name, int port) throws IOException, InterruptedException {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        HttpRequest ready = HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/q/health/ready"))
                .timeout(Duration.ofSeconds(5)).build();
        long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
        String last = "no answer";
        while (System.nanoTime() < deadline) {
            for (Process p : services) {
                if (!p.isAlive()) {
                    throw new IOException("a service exited during start (exit " + p.exitValue() + ")");
                }
            }
            try {
                HttpResponse<String> answer = http.send(ready, HttpResponse.BodyHandlers.ofString());
                if (answer.statusCode() == 200) {
                    return;
                }
                last = "HTTP " + answer.statusCode() + ": " + answer.body();
            } catch (IOException notYet) {
                last = notYet.toString();
            }
            Thread.sleep(250);
        }
        throw new IOException(name + " not ready on port " + port + " after " + READY_TIMEOUT.toSeconds() + " s: " + last);
    }

    /** The database the services use (user postgres, no password). */
    public String jdbcUrl() {
        return "jdbc:postgresql://localhost:" + settings.postgresPort() + "/" + DATABASE;
    }

    /** Each running service's process id, by name (for the bench's memory figures). */
    public Map<String, Long> servicePids() {
        Map<String, Long> pids = new LinkedHashMap<>();
        List<String> names = new ArrayList<>(settings.servicePorts().keySet());
        for (int i = 0; i < services.size(); i++) {
            pids.put(names.get(i), services.get(i).pid());
        }
        return pids;
    }

    /** Blocks until one service exits, and returns its exit code. */
    public int awaitAnyServiceExit() throws InterruptedException {
        while (true) {
            for (Process p : services) {
                if (p.waitFor(200, TimeUnit.MILLISECONDS)) {
                    return p.exitValue();
                }
            }
        }
    }

    /** Stops the services (gracefully, then forcibly after 30 s), then PostgreSQL. */
    @Override
    public void close() {
        stopping = true;
        stopEverything();
    }

    private synchronized void stopEverything() {
        for (Process p : services) {
            p.destroy();
        }
        for (Process p : services) {
            try {
                if (!p.waitFor(30, TimeUnit.SECONDS)) {
                    p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                p.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
        services.clear();
        if (postgres != null) {
            try {
                postgres.close();
            } catch (IOException e) {
                System.err.println("stopping PostgreSQL: " + e.getMessage());
            }
            postgres = null;
            out.println("Atelier stopped.");
        }
    }

    private static String javaBinary() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    private static int intEnv(String name, int fallback) {
        String value = System.getenv(name);
        return value == null || value.isBlank() ? fallback : Integer.parseInt(value.trim());
    }
}
