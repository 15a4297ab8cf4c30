package dev.atelier.launcher;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.ServerSocket;
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
import java.sql.Statement;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The README's run command, minus the build: the packaged services start against the kept PostgreSQL, each is
 * ready within 60 s, and what was stored survives a restart.
 */
class LocalStackIT {

    private Path data;
    private final ByteArrayOutputStream output = new ByteArrayOutputStream();

    @BeforeEach
    void dataDirectory() throws IOException {
        data = Files.createTempDirectory(Path.of(System.getProperty("atelier.root"), "launcher", "target"), "stack-");
    }

    @AfterEach
    void removeDataDirectory() throws IOException {
        try (Stream<Path> files = Files.walk(data)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    @Test
    void everyServiceIsReadyWithinSixtySecondsAndDataSurvivesARestart() throws Exception {
        LocalStack.Settings settings = settings();
        Map<String, Integer> ports = settings.servicePorts();

        try (LocalStack stack = new LocalStack(settings, new PrintStream(output, true, StandardCharsets.UTF_8))) {
            long started = System.nanoTime();
            stack.start();
            double seconds = (System.nanoTime() - started) / 1e9;
            System.out.printf("local stack ready in %.1f s%n", seconds);
            assertThat(seconds).as("all three services UP on /q/health/ready").isLessThan(60);
            for (int port : ports.values()) {
                assertThat(get(port, "/q/health/ready")).contains("\"status\": \"UP\"");
            }
            assertThat(query(settings, "select count(*) from pg_settings where name in ('fsync', 'synchronous_commit') and setting = 'on'"))
                    .as("the user's data is written durably").isEqualTo(2);
            execute(settings, "insert into crew (name, template) values ('kept', '{\"type\": \"ollama.generate\"}')");
            // without authentication, it answers this machine only
            java.util.List<Integer> listening = new java.util.ArrayList<>(ports.values());
            listening.add(Integer.parseInt(settings.extraEnvironment().get("QUARKUS_MANAGEMENT_PORT"))); // /drain
            for (java.net.InetAddress other : otherAddresses()) {
                for (int port : listening) {
                    try (java.net.Socket socket = new java.net.Socket()) {
                        socket.connect(new java.net.InetSocketAddress(other, port), 2_000);
                        throw new AssertionError("port " + port + " answers on " + other);
                    } catch (java.io.IOException refused) {
                        // as it should
                    }
                }
            }
        }

        try (LocalStack stack = new LocalStack(settings, new PrintStream(output, true, StandardCharsets.UTF_8))) {
            stack.start();
            assertThat(query(settings, "select count(*) from crew where name = 'kept'")).isEqualTo(1);
        }
        assertThat(output.toString(StandardCharsets.UTF_8)).contains("Atelier is up", "Atelier stopped.",
                "Listening on 127.0.0.1 only, without authentication");
    }

    private LocalStack.Settings settings() throws IOException {
        Map<String, Integer> ports = new LinkedHashMap<>();
        ports.put("gateway", freePort());
        ports.put("ledger", freePort());
        ports.put("executor", freePort());
        return new LocalStack.Settings(Path.of(System.getProperty("atelier.root")).toAbsolutePath().normalize(),
                data, freePort(), ports, Map.of("QUARKUS_MANAGEMENT_PORT", Integer.toString(freePort())));
    }

    /** This machine's addresses that are not loopback (a sandbox may have none). */
    private static java.util.List<java.net.InetAddress> otherAddresses() throws IOException {
        java.util.List<java.net.InetAddress> addresses = new java.util.ArrayList<>();
        for (java.net.NetworkInterface nic : java.util.Collections.list(java.net.NetworkInterface.getNetworkInterfaces())) {
            if (nic.isUp() && !nic.isLoopback()) {
                nic.inetAddresses().filter(a -> a instanceof java.net.Inet4Address).forEach(addresses::add);
            }
        }
        return addresses;
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    private static String get(int port, String path) throws Exception {
        HttpResponse<String> response = HttpClient.newHttpClient().send(
                HttpRequest.newBuilder(URI.create("http://localhost:" + port + path)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).isEqualTo(200);
        return response.body();
    }

    private static String url(LocalStack.Settings settings) {
        return "jdbc:postgresql://localhost:" + settings.postgresPort() + "/atelier?user=postgres";
    }

    private static void execute(LocalStack.Settings settings, String sql) throws Exception {
        try (Connection c = DriverManager.getConnection(url(settings)); Statement s = c.createStatement()) {
            s.execute(sql);
        }
    }

    private static long query(LocalStack.Settings settings, String sql) throws Exception {
        try (Connection c = DriverManager.getConnection(url(settings)); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }
}
