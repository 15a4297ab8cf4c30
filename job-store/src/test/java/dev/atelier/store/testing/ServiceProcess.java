package dev.atelier.store.testing;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A packaged service ({@code target/quarkus-app/quarkus-run.jar} of the module under test) as a separate OS
 * process on a free port, pointed at a test database, for tests that need a real process: several of them, a
 * SIGKILL, or a small heap. Only the environment given here reaches it ({@code QUARKUS_*} and {@code ATELIER_*}
 * of the test's own environment are dropped). Its output is copied to the test's, prefixed with its name.
 */
public final class ServiceProcess implements AutoCloseable {

    private final String name;
    private final Process process;
    private final int port;
    private final int managementPort;

    private ServiceProcess(String name, Process process, int port, int managementPort) {
        this.name = name;
        this.process = process;
        this.port = port;
        this.managementPort = managementPort;
    }

    /**
     * Starts the module's packaged application and waits until {@code /q/health/ready} answers 200.
     *
     * @param maxHeap the {@code -Xmx} value, such as {@code 256m}
     * @param env     settings on top of the database's
     */
    public static ServiceProcess start(String name, TestPostgres.Database db, String maxHeap, Map<String, String> env)
            throws IOException, InterruptedException {
        return start(name, Path.of("target/quarkus-app/quarkus-run.jar"), db, maxHeap, env);
    }

    /** The same for another module's packaged application: {@code jar} is its {@code quarkus-run.jar}. */
    public static ServiceProcess start(String name, Path jar, TestPostgres.Database db, String maxHeap,
                                       Map<String, String> env) throws IOException, InterruptedException {
        return start(name, jar, db, List.of("-Xmx" + maxHeap), env);
    }

    /** The same with the JVM's options given whole (a manifest's, say) rather than a heap size. */
    public static ServiceProcess start(String name, Path jar, TestPostgres.Database db, List<String> jvmOptions,
                                       Map<String, String> env) throws IOException, InterruptedException {
        if (!Files.exists(jar)) {
            throw new IllegalStateException(jar.toAbsolutePath() + " is missing: this test runs after package");
        }
        int port;
        int managementPort;
        try (ServerSocket free = new ServerSocket(0); ServerSocket freeToo = new ServerSocket(0)) {
            port = free.getLocalPort();
            managementPort = freeToo.getLocalPort();
        }
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(jvmOptions);
        command.addAll(List.of("-jar", jar.toString()));
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        Map<String, String> environment = builder.environment();
        environment.keySet().removeIf(k -> k.startsWith("QUARKUS_") || k.startsWith("ATELIER_"));
        environment.put("QUARKUS_DATASOURCE_JDBC_URL", db.jdbcUrl());
        environment.put("QUARKUS_DATASOURCE_USERNAME", db.username());
        environment.put("QUARKUS_DATASOURCE_PASSWORD", db.password() == null ? "" : db.password());
        environment.put("QUARKUS_HTTP_PORT", Integer.toString(port));
        // the executor's management interface (/drain); several executors run side by side
        environment.put("QUARKUS_MANAGEMENT_PORT", Integer.toString(managementPort));
        environment.putAll(env);
        Process process = builder.start();
        Thread copier = new Thread(() -> copyOutput(name, process), name + "-output");
        copier.setDaemon(true);
        copier.start();
        ServiceProcess service = new ServiceProcess(name, process, port, managementPort);
        service.awaitReady();
        return service;
    }

    public String name() {
        return name;
    }

    public String url() {
        return "http://127.0.0.1:" + port;
    }

    /** The management interface, where a service has one (the executor's {@code /drain}). */
    public String managementUrl() {
        return "http://127.0.0.1:" + managementPort;
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    public long pid() {
        return process.pid();
    }

    /** The most memory the process has held (Linux's VmHWM, its peak resident set), in bytes. */
    public long peakRssBytes() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid()), "status"))) {
            if (line.startsWith("VmHWM:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        }
        throw new IOException("no VmHWM in /proc/" + pid() + "/status");
    }

    /** SIGKILL: no shutdown hook runs. */
    public void kill() throws InterruptedException {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }

    /** SIGTERM, then waits for the exit; returns the exit code. */
    public int stop() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
        return process.exitValue();
    }

    @Override
    public void close() throws InterruptedException {
        stop();
    }

    private void awaitReady() throws IOException, InterruptedException {
        HttpClient http = HttpClient.newHttpClient();
        HttpRequest ready = HttpRequest.newBuilder(URI.create(url() + "/q/health/ready"))
                .timeout(Duration.ofSeconds(2)).build();
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IOException(name + " exited during start with " + process.exitValue());
            }
            try {
                if (http.send(ready, HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
                    return;
                }
            } catch (IOException notYet) {
                // still starting
            }
            Thread.sleep(200);
        }
        throw new IOException(name + " not ready after 60 s");
    }

    private static void copyOutput(String name, Process process) {
        try (BufferedReader reader = new BufferedReader(
                new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = reader.readLine()) != null) {
                System.out.println("[" + name + "] " + line);
            }
        } catch (IOException ignored) {
            // the process ended
        }
    }
}
