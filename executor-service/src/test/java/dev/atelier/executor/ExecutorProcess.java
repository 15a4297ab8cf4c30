package dev.atelier.executor;

import dev.atelier.store.testing.ServiceProcess;
import dev.atelier.store.testing.TestPostgres;
import java.io.IOException;
import java.util.Map;

/**
 * The packaged executor as a separate process, for tests that need several executors, or one killed with SIGKILL.
 * Quick loops: 3 s lease, 1 s heartbeat, reaping and health checks; a 1 s shutdown grace.
 */
public final class ExecutorProcess implements AutoCloseable {

    private final String id;
    private final ServiceProcess process;

    private ExecutorProcess(String id, ServiceProcess process) {
        this.id = id;
        this.process = process;
    }

    /** An executor serving only Ollama, at {@code ollamaUrl}, with {@code slots} slots. */
    public static ExecutorProcess start(String id, TestPostgres.Database db, String ollamaUrl, int slots)
            throws IOException, InterruptedException {
        return start(id, db, ollamaUrl, slots, Map.of());
    }

    /** The same, with settings of the test's own on top (a longer shutdown grace, say). */
    public static ExecutorProcess start(String id, TestPostgres.Database db, String ollamaUrl, int slots,
                                        Map<String, String> settings) throws IOException, InterruptedException {
        Map<String, String> env = new java.util.HashMap<>(Map.of("ATELIER_BACKENDS_OLLAMA_URL", ollamaUrl,
                "ATELIER_BACKENDS_OLLAMA_SLOTS", Integer.toString(slots),
                "ATELIER_BACKENDS_COMFYUI_SLOTS", "0"));
        env.putAll(settings);
        return start(id, db, env);
    }

    /** An executor serving only ComfyUI, at {@code comfyUrl}, with one slot and history polled every 300 ms. */
    public static ExecutorProcess startComfy(String id, TestPostgres.Database db, String comfyUrl)
            throws IOException, InterruptedException {
        return start(id, db, Map.of("ATELIER_BACKENDS_COMFYUI_URL", comfyUrl,
                "ATELIER_BACKENDS_COMFYUI_SLOTS", "1",
                "ATELIER_BACKENDS_COMFYUI_POLL_INTERVAL", "PT0.3S",
                "ATELIER_BACKENDS_OLLAMA_SLOTS", "0"));
    }

    private static ExecutorProcess start(String id, TestPostgres.Database db, Map<String, String> backends)
            throws IOException, InterruptedException {
        Map<String, String> env = new java.util.HashMap<>(Map.of(
                "ATELIER_EXECUTOR_ID", id,
                "ATELIER_EXECUTOR_LEASE", "PT3S",
                "ATELIER_EXECUTOR_HEARTBEAT", "1s",
                "ATELIER_EXECUTOR_REAP_INTERVAL", "1s",
                "ATELIER_EXECUTOR_POLL", "PT0.5S",
                "ATELIER_BACKENDS_HEALTH_INTERVAL", "1s",
                "ATELIER_EXECUTOR_SHUTDOWN_GRACE", "PT1S"));
        env.putAll(backends);
        return new ExecutorProcess(id, ServiceProcess.start(id, db, "256m", env));
    }

    public String id() {
        return id;
    }

    public String url() {
        return process.url();
    }

    /** Where {@code /drain} is served. */
    public String managementUrl() {
        return process.managementUrl();
    }

    /** SIGKILL: no shutdown hook runs, nothing is handed back. */
    public void kill() throws InterruptedException {
        process.kill();
    }

    /** SIGTERM, then waits for the exit; returns the exit code. */
    public int stop() throws InterruptedException {
        return process.stop();
    }

    @Override
    public void close() throws InterruptedException {
        process.close();
    }
}
