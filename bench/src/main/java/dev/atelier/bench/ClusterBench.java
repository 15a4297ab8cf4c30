package dev.atelier.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atelier.fakes.FakeOllama;
import dev.atelier.store.testing.ServiceProcess;
import dev.atelier.store.testing.TestPostgres;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The figures that need executors: packaged executors as processes against a fake Ollama, jobs submitted through the
 * gateway and followed through the ledger, as users do.
 * <ul>
 *   <li>end to end: 20,000 {@code ollama.generate} jobs (two 10,000-job batches) against a zero-latency fake, from
 *       the first submit until the ledger shows every job terminal, with 1 and then 2 executors; each job still makes
 *       its HTTP call; the peak RSS of every service meanwhile;</li>
 *   <li>latency: enqueue to attempt start (both database times) for 300 single-job batches 20 ms apart;</li>
 *   <li>slot utilisation: one executor with 4 slots, 200 jobs of 200 ms: busy-slot time / (slots x wall time).</li>
 * </ul>
 */
final class ClusterBench {

    private static final int SLOTS = 64;
    private static final int E2E_JOBS = 20_000;

    private final String gateway;
    private final String ledger;
    private final String jdbcUrl;
    private final Path executorJar;
    private final Map<String, Long> servicePids;
    private final HttpClient http = HttpClient.newHttpClient();
    private final ObjectMapper json = new ObjectMapper();

    ClusterBench(String gateway, String ledger, String jdbcUrl, Path root, Map<String, Long> servicePids) {
        this.gateway = gateway;
        this.ledger = ledger;
        this.jdbcUrl = jdbcUrl;
        this.executorJar = root.resolve("executor-service/target/quarkus-app/quarkus-run.jar");
        this.servicePids = servicePids;
    }

    void run() throws Exception {
        try (FakeOllama ollama = new FakeOllama()) {
            for (int executors = 1; executors <= 2; executors++) {
                endToEnd(ollama, executors);
            }
            latency(ollama);
            utilisation(ollama);
        }
    }

    private void endToEnd(FakeOllama ollama, int count) throws Exception {
        List<ServiceProcess> executors = startExecutors(ollama, count, SLOTS);
        try (RssPeak rss = new RssPeak(pids(executors))) {
            long started = System.nanoTime();
            List<String> batches = new ArrayList<>();
            for (int b = 0; b < E2E_JOBS / 10_000; b++) {
                batches.add(submit(batch("e2e-" + count + "-" + b, 10_000, "")));
            }
            for (String batch : batches) {
                awaitDone(batch);
            }
            double seconds = (System.nanoTime() - started) / 1e9;
            Bench.figure("end to end, " + count + " executor" + (count > 1 ? "s" : "") + " x " + SLOTS + " slots",
                    String.format("%,.0f jobs/s (%,d jobs in %.1f s)", E2E_JOBS / seconds, E2E_JOBS, seconds),
                    "≥ 5,000 jobs/s");
            Bench.figure("peak RSS during it", rss.describe(), "≤ 300 MB each");
        } finally {
            stop(executors);
        }
    }

    private void latency(FakeOllama ollama) throws Exception {
        List<ServiceProcess> executors = startExecutors(ollama, 1, SLOTS);
        try {
            Thread.sleep(3_000); // idle: nothing queued, the executor waits for NOTIFY
            List<String> batches = new ArrayList<>();
            for (int i = 0; i < 300; i++) {
                long next = System.nanoTime() + 20_000_000L;
                batches.add(submit(batch("latency-" + i, 1, "")));
                long wait = next - System.nanoTime();
                if (wait > 0) {
                    Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
                }
            }
            for (String batch : batches) {
                awaitDone(batch);
            }
            List<Double> millis = query("""
                    select extract(epoch from a.started_at - j.created_at) * 1000
                    from job j join attempt a on a.job_id = j.id and a.attempt = 1
                    where j.batch_id = any (?::uuid[])""", batches);
            Collections.sort(millis);
            Bench.figure("latency enqueue → start, idle, 300 samples", String.format("p50 %.1f ms, p95 %.1f ms, p99 %.1f ms",
                    pct(millis, 0.50), pct(millis, 0.95), pct(millis, 0.99)), "p99 ≤ 10 ms");
        } finally {
            stop(executors);
        }
    }

    private void utilisation(FakeOllama ollama) throws Exception {
        int slots = 4;
        List<ServiceProcess> executors = startExecutors(ollama, 1, slots);
        try {
            String batch = submit(batch("utilisation", 200, "slow:200 "));
            awaitDone(batch);
            List<Double> figures = query("""
                    select sum(extract(epoch from a.finished_at - a.started_at)),
                           extract(epoch from max(a.finished_at) - min(j.created_at))
                    from job j join attempt a on a.job_id = j.id
                    where j.batch_id = any (?::uuid[])""", List.of(batch));
            double busy = figures.get(0);
            double wall = figures.get(1);
            Bench.figure("slot utilisation, 4 slots, 200 jobs of 200 ms",
                    String.format("%.1f %% (busy %.1f slot-s in %.2f s wall)", 100 * busy / (slots * wall), busy, wall),
                    "≥ 97 %");
        } finally {
            stop(executors);
        }
    }

    // ---------------------------------------------------------------- helpers

    private List<ServiceProcess> startExecutors(FakeOllama ollama, int count, int slots) throws Exception {
        List<ServiceProcess> executors = new ArrayList<>();
        TestPostgres.Database db = new TestPostgres.Database("atelier", jdbcUrl, "postgres", "");
        for (int i = 0; i < count; i++) {
            Map<String, String> env = new HashMap<>();
            env.put("ATELIER_EXECUTOR_ID", "bench-executor-" + i);
            env.put("ATELIER_BACKENDS_OLLAMA_URL", ollama.url());
            env.put("ATELIER_BACKENDS_OLLAMA_SLOTS", Integer.toString(slots));
            env.put("ATELIER_BACKENDS_COMFYUI_SLOTS", "0");
            env.put("QUARKUS_LOG_LEVEL", "WARN");
            env.put("JAVA_TOOL_OPTIONS", Bench.CONTAINER_MEMORY);
            // the heap the JVM picks in a 512 MiB container (a quarter), given explicitly
            executors.add(ServiceProcess.start("executor-" + i, executorJar, db, "128m", env));
        }
        return executors;
    }

    private static void stop(List<ServiceProcess> executors) throws InterruptedException {
        for (ServiceProcess executor : executors) {
            executor.stop();
        }
    }

    private Map<String, Long> pids(List<ServiceProcess> executors) {
        Map<String, Long> pids = new LinkedHashMap<>(servicePids);
        executors.forEach(e -> pids.put(e.name(), e.pid()));
        return pids;
    }

    private static String batch(String name, int jobs, String promptPrefix) {
        StringBuilder body = new StringBuilder("{\"name\": \"" + name + "\", \"mode\": \"parallel\", \"jobs\": [");
        for (int i = 0; i < jobs; i++) {
            body.append(i == 0 ? "" : ",").append("{\"type\": \"ollama.generate\", \"model\": \"llama3.2\", \"prompt\": \"")
                    .append(promptPrefix).append(name).append(' ').append(i).append("\"}");
        }
        return body.append("]}").toString();
    }

    private String submit(String body) throws IOException, InterruptedException {
        HttpResponse<String> answer = http.send(HttpRequest.newBuilder(URI.create(gateway + "/api/v1/batches"))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
        if (answer.statusCode() != 201) {
            throw new IllegalStateException("the gateway answered " + answer.statusCode() + ": " + answer.body());
        }
        return json.readTree(answer.body()).path("id").asText();
    }

    /** Polls the ledger's summary of the batch every 50 ms until every job succeeded; fails otherwise. */
    private void awaitDone(String batch) throws IOException, InterruptedException {
        HttpRequest get = HttpRequest.newBuilder(URI.create(ledger + "/api/v1/summary?batch=" + batch)).build();
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(10);
        while (System.nanoTime() < deadline) {
            JsonNode summary = json.readTree(http.send(get, HttpResponse.BodyHandlers.ofString()).body());
            JsonNode counts = summary.path("status_counts");
            if (counts.path("failed").asInt() + counts.path("cancelled").asInt() > 0) {
                throw new IllegalStateException("batch " + batch + " has jobs that did not succeed: " + counts);
            }
            if (counts.path("success").asInt() == summary.path("total_tasks").asInt()) {
                return;
            }
            Thread.sleep(50);
        }
        throw new IllegalStateException("batch " + batch + " not done after 10 minutes");
    }

    private List<Double> query(String sql, List<String> batches) throws Exception {
        try (Connection c = DriverManager.getConnection(jdbcUrl, "postgres", "");
             PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setArray(1, c.createArrayOf("uuid", batches.toArray()));
            List<Double> values = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    for (int col = 1; col <= rs.getMetaData().getColumnCount(); col++) {
                        values.add(rs.getDouble(col));
                    }
                }
            }
            return values;
        }
    }

    private static double pct(List<Double> sorted, double p) {
        return sorted.get(Math.min(sorted.size() - 1, (int) Math.ceil(p * sorted.size()) - 1));
    }

    /** Samples each process's resident set (VmRSS in /proc) every 100 ms and keeps the peak. */
    static final class RssPeak implements AutoCloseable {
        private final Map<String, Long> pids;
        private final Map<String, Long> peakKb = new ConcurrentHashMap<>();
        private final ScheduledExecutorService sampler = Executors.newSingleThreadScheduledExecutor();

        RssPeak(Map<String, Long> pids) {
            this.pids = pids;
            sampler.scheduleAtFixedRate(this::sample, 0, 100, TimeUnit.MILLISECONDS);
        }

        private void sample() {
            pids.forEach((name, pid) -> {
                try {
                    for (String line : Files.readAllLines(Path.of("/proc", pid.toString(), "status"))) {
                        if (line.startsWith("VmRSS:")) {
                            long kb = Long.parseLong(line.replaceAll("[^0-9]", ""));
                            peakKb.merge(name, kb, Math::max);
                        }
                    }
                } catch (IOException | RuntimeException gone) {
                    // the process ended
                }
            });
        }

        String describe() {
            sample();
            List<String> parts = new ArrayList<>();
            pids.keySet().forEach(name -> parts.add(name + " " + (peakKb.getOrDefault(name, 0L) >> 10) + " MB"));
            return String.join(", ", parts);
        }

        @Override
        public void close() {
            sampler.shutdownNow();
        }
    }
}
