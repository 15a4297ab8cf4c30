package dev.atelier.executor;

import dev.atelier.store.testing.TestPostgres;
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
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The packaged executor ({@code target/quarkus-app/quarkus-run.jar}) as a separate process, for tests that need
 * several executors, or one killed with SIGKILL. Quick loops: 3 s lease, 1 s heartbeat, reaping and health checks;
 * a 1 s shutdown grace.
 */
public final class ExecutorProcess implements AutoCloseable {

    private final String id;
    private final Process process;
    private final int port;

    private ExecutorProcess(String id, Process process, int port) {
        this.id = id;
        this.process = process;
        this.port = port;
    }

    public static ExecutorProcess start(String id, TestPostgres.Database db, String ollamaUrl, int slots)
            throws IOException, InterruptedException {
        Path jar = Path.of("target/quarkus-app/quarkus-run.jar");
        if (!Files.exists(jar)) {
            throw new IllegalStateException(jar.toAbsolutePath() + " is missing: this test runs after package");
        }
        int port;
        try (ServerSocket free = new ServerSocket(0)) {
            port = free.getLocalPort();
        }
        ProcessBuilder builder = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m", "-jar", jar.toString()).redirectErrorStream(true);
        Map<String, String> env = builder.environment();
        env.keySet().removeIf(k -> k.startsWith("QUARKUS_") || k.startsWith("ATELIER_"));
        env.put("QUARKUS_DATASOURCE_JDBC_URL", db.jdbcUrl());
        env.put("QUARKUS_DATASOURCE_USERNAME", db.username());
        env.put("QUARKUS_DATASOURCE_PASSWORD", db.password() == null ? "" : db.password());
        env.put("QUARKUS_HTTP_PORT", Integer.toString(port));
        env.put("ATELIER_EXECUTOR_ID", id);
        env.put("ATELIER_EXECUTOR_LEASE", "PT3S");
        env.put("ATELIER_EXECUTOR_HEARTBEAT", "1s");
        env.put("ATELIER_EXECUTOR_REAP_INTERVAL", "1s");
        env.put("ATELIER_EXECUTOR_POLL", "PT0.5S");
        env.put("ATELIER_BACKENDS_HEALTH_INTERVAL", "1s");
        env.put("ATELIER_BACKENDS_OLLAMA_URL", ollamaUrl);
        env.put("ATELIER_BACKENDS_OLLAMA_SLOTS", Integer.toString(slots));
        env.put("ATELIER_BACKENDS_COMFYUI_SLOTS", "0");
        env.put("ATELIER_EXECUTOR_SHUTDOWN_GRACE", "PT1S");
        Process process = builder.start();
        Thread copier = new Thread(() -> copyOutput(id, process), id + "-output");
        copier.setDaemon(true);
        copier.start();
        ExecutorProcess executor = new ExecutorProcess(id, process, port);
        executor.awaitReady();
        return executor;
    }

    public String id() {
        return id;
    }

    /** SIGKILL: no shutdown hook runs, nothing is handed back. */
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
        process.destroy();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }

    private void awaitReady() throws IOException, InterruptedException {
        HttpClient http = HttpClient.newHttpClient();
        HttpRequest ready = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/q/health/ready"))
                .timeout(Duration.ofSeconds(2)).build();
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IOException(id + " exited during start with " + process.exitValue());
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
        throw new IOException(id + " not ready after 60 s");
    }

    private static void copyOutput(String id, Process process) {
        try (BufferedReader reader = new BufferedReader(
                new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = reader.readLine()) != null) {
                System.out.println("[" + id + "] " + line);
            }
        } catch (IOException ignored) {
            // the process ended
        }
    }
}
