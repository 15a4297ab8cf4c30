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
import java.sql.Statement;
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
import java.util.function.Function;

/**
 * The figures that need executors: packaged executors as processes against a fake Ollama, jobs submitted through the
 * gateway and followed through the ledger, as users do.
 * <ul>
 *   <li>end to end: 20,000 {@code ollama.generate} jobs (two 10,000-job batches) against a zero-latency fake, from
 *       the first submit until the ledger shows every job terminal, with 1 and then 2 executors; each job still makes
 *       its HTTP call; the peak RSS of every service meanwhile;</li>
 *   <li>latency: enqueue to attempt start (both database times) for 300 single-job batches 20 ms apart, after 100
 *       unmeasured ones, a checkpoint and a quiet machine;</li>
 *   <li>pipelines: 1,000 two-step chains (single-batch, {@code b} after {@code a}, b's prompt a template of a's
 *       text) 20 ms apart, after 2,000 unmeasured ones: what the gate adds, from the first step's success to the
 *       second's attempt start;</li>
 *   <li>slot utilisation: one executor with 4 slots, 200 jobs of 200 ms: busy-slot time / (slots x wall time);</li>
 *   <li>GPU efficiency with two models ({@link #gpuEfficiency()}), with model affinity and without.</li>
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
            Bench.awaitQuiet("end to end, " + count + " executors");
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
                    "≥ 3,000 jobs/s");
            Bench.figure("peak RSS during it", rss.describe(), "≤ 300 MB each");
        } finally {
            stop(executors);
        }
    }

    private void latency(FakeOllama ollama) throws Exception {
        List<ServiceProcess> executors = startExecutors(ollama, 1, SLOTS);
        try {
            // An executor runs for days: the first claims of a fresh JVM run interpreted, so 100 unmeasured jobs first
            for (String batch : paced("latency-warm-up-", 100, name -> batch(name, 1, ""))) {
                awaitDone(batch);
            }
            // Then as the peers' harness does: a checkpoint, so none falls inside the figure, and a quiet machine
            // (the last figure's 20,000 jobs are still being vacuumed and numbered)
            checkpointAndQuiet("latency");
            List<String> batches = paced("latency-", 300, name -> batch(name, 1, ""));
            for (String batch : batches) {
                awaitDone(batch);
            }
            List<Double> millis = query("""
                    select extract(epoch from a.started_at - j.created_at) * 1000
                    from job j join attempt a on a.job_id = j.id and a.attempt = 1
                    where j.batch_id = any (?::uuid[])""", batches);
            Collections.sort(millis);
            Bench.figure("latency enqueue → start, idle, 300 samples", String.format("p50 %.1f ms, p95 %.1f ms, p99 %.1f ms",
                    pct(millis, 0.50), pct(millis, 0.95), pct(millis, 0.99)), "p99 ≤ 10 ms", pct(millis, 0.99),
                    PeerFigures::idleLatencyP99, "ms p99");
        } finally {
            stop(executors);
        }
    }

    void pipelines() throws Exception {
        try (FakeOllama ollama = new FakeOllama()) {
            pipelines(ollama);
        }
    }

    private void pipelines(FakeOllama ollama) throws Exception {
        List<ServiceProcess> executors = startExecutors(ollama, 1, SLOTS);
        try {
            // long enough for the JIT to settle: after 300 chains, the services' and this bench's compiler threads
            // still took a fifth of the machine while the figure was taken, and its p99 was twice what it is after
            // 2,000 (production runs native images, which compile nothing)
            for (String batch : paced("chain-warm-up-", 2_000, ClusterBench::chain)) {
                awaitDone(batch);
            }
            chains();
        } finally {
            stop(executors);
        }
    }

    /** 1,000 chains: step 2's start after step 1's success, and how busy the machine was meanwhile. */
    private void chains() throws Exception {
        checkpointAndQuiet("pipelines");
        long[] before = Bench.cpuTicks();
        List<String> batches = paced("chain-", 1_000, ClusterBench::chain);
        double busy = Bench.busyPercent(before, Bench.cpuTicks());
        for (String batch : batches) {
            awaitDone(batch);
        }
        // both database times: the completing transaction's now() for a, the claiming one's for b
        List<Double> millis = query("""
                select extract(epoch from b_attempt.started_at - a.finished_at) * 1000
                from job a
                join job b on b.batch_id = a.batch_id and b.key = 'b'
                join attempt b_attempt on b_attempt.job_id = b.id and b_attempt.attempt = 1
                where a.batch_id = any (?::uuid[]) and a.key = 'a'""", batches);
        Collections.sort(millis);
        // the first steps' enqueue -> start meanwhile: what any job waited under the same load
        List<Double> first = query("""
                select extract(epoch from a_attempt.started_at - a.created_at) * 1000
                from job a join attempt a_attempt on a_attempt.job_id = a.id and a_attempt.attempt = 1
                where a.batch_id = any (?::uuid[]) and a.key = 'a'""", batches);
        Collections.sort(first);
        Bench.figure("pipelines, 1,000 two-step chains 20 ms apart: step 1 success → step 2 start",
                String.format("p50 %.1f ms, p95 %.1f ms, p99 %.1f ms (%d chains; step 1 enqueue → start meanwhile:"
                                + " p50 %.1f ms, p99 %.1f ms; machine %.0f %% busy)", pct(millis, 0.50),
                        pct(millis, 0.95), pct(millis, 0.99), millis.size(), pct(first, 0.50), pct(first, 0.99), busy),
                "p99 ≤ 20 ms");
    }

    /** A two-step chain as one batch: b's prompt is a template of a's answer. */
    private static String chain(String name) {
        return "{\"name\": \"" + name + "\", \"mode\": \"parallel\", \"jobs\": ["
                + "{\"key\": \"a\", \"type\": \"ollama.generate\", \"model\": \"llama3.2\", \"prompt\": \"" + name + "\"},"
                + "{\"key\": \"b\", \"after\": [\"a\"], \"type\": \"ollama.generate\", \"model\": \"llama3.2\","
                + " \"prompt\": \"go on from: {{jobs.a.text}}\"}]}";
    }

    /** A checkpoint, so none falls inside a latency figure, then idle (the executor waits for NOTIFY) and quiet. */
    private void checkpointAndQuiet(String label) throws Exception {
        try (Connection c = DriverManager.getConnection(jdbcUrl, "postgres", "");
             Statement checkpoint = c.createStatement()) {
            checkpoint.execute("checkpoint");
        }
        Thread.sleep(3_000);
        Bench.awaitQuiet(label);
    }

    /** Submits batches 20 ms apart, each named prefix + its number. */
    private List<String> paced(String prefix, int count, Function<String, String> body) throws Exception {
        List<String> batches = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            long next = System.nanoTime() + 20_000_000L;
            batches.add(submit(body.apply(prefix + i)));
            long wait = next - System.nanoTime();
            if (wait > 0) {
                Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
            }
        }
        return batches;
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

    // ---------------------------------------------------------------- GPU efficiency

    private static final String DEEPSEEK = "deepseek-r1:32b";
    private static final String CODER = "deepseek-coder:6.7b";
    private static final String LLAMA = "llama3.2:3b";
    private static final long LOAD_MILLIS = 3_000;
    private static final long JOB_MILLIS = 100;
    private static final String AFFINITY_WAIT = "PT2M";

    /**
     * Two executors, each with its own Ollama that holds one model at a time and pays 3 s for every load. A batch of
     * 200 jobs of 100 ms alternates deepseek-r1:32b and deepseek-coder:6.7b; halfway through it, 20 llama3.2:3b jobs
     * arrive in a more urgent batch (priority 0). Once with model affinity (max-affinity-wait PT2M), once without
     * (PT0S): the makespan, the loads and the time lost to them, the longest any job waited, and how soon the urgent
     * batch started. With 2 slots per executor (OLLAMA_NUM_PARALLEL 2, as the gpu overlay runs), and with 1: one slot
     * each keeps two executors in step on an alternating batch (one takes A, the other B) even without affinity.
     */
    void gpuEfficiency() throws Exception {
        for (int slots : new int[] {2, 1}) {
            Run with = gpuRun(AFFINITY_WAIT, slots);
            Run without = gpuRun("PT0S", slots);
            String shape = slots + " slot" + (slots > 1 ? "s" : "") + " each";
            Bench.figure("GPU efficiency, 2 models, " + shape + ": makespan with affinity / without",
                    String.format("%.1f s / %.1f s = %.0f %%", with.makespan, without.makespan,
                            100 * with.makespan / without.makespan), slots > 1 ? "≤ 40 %" : "-");
            Bench.figure("GPU efficiency, " + shape + ": loads with affinity (without)",
                    String.format("%d, %.0f s lost to loads (%d, %.0f s)", with.loads, with.loads * LOAD_MILLIS / 1000.0,
                            without.loads, without.loads * LOAD_MILLIS / 1000.0), "≤ 6");
            Bench.figure("GPU efficiency, " + shape + ": longest wait with affinity",
                    String.format("%.1f s (without: %.1f s)", with.longestWait, without.longestWait),
                    "≤ " + AFFINITY_WAIT.substring(2).toLowerCase() + " + " + JOB_MILLIS + " ms");
            Bench.figure("GPU efficiency, " + shape + ": urgent batch claimed, first done after submit",
                    String.format("%.2f s, %.2f s (without: %.2f s, %.2f s)", with.urgentClaimed, with.urgentDone,
                            without.urgentClaimed, without.urgentDone),
                    "claimed ≤ " + JOB_MILLIS + " ms + " + LOAD_MILLIS / 1000 + " s");
        }
    }

    private record Run(double makespan, int loads, double longestWait, double urgentClaimed, double urgentDone) {
    }

    private Run gpuRun(String maxAffinityWait, int slots) throws Exception {
        List<FakeOllama> gpus = new ArrayList<>();
        List<ServiceProcess> executors = new ArrayList<>();
        try {
            for (int i = 0; i < 2; i++) {
                FakeOllama gpu = new FakeOllama();
                gpu.models(DEEPSEEK, CODER, LLAMA);
                gpu.maxLoaded(1);
                gpu.loadMillis(LOAD_MILLIS);
                gpu.numParallel(slots);
                gpus.add(gpu);
                executors.add(startExecutor("gpu-executor-" + i, gpu, slots, Map.of(
                        "ATELIER_EXECUTOR_MAX_AFFINITY_WAIT", maxAffinityWait,
                        "ATELIER_BACKENDS_HEALTH_INTERVAL", "1s",
                        "ATELIER_EXECUTOR_POLL", "PT0.2S")));
            }
            String run = maxAffinityWait + " x" + slots;
            StringBuilder mixed = new StringBuilder("{\"name\": \"two models " + run
                    + "\", \"mode\": \"parallel\", \"priority\": 5, \"jobs\": [");
            for (int i = 0; i < 200; i++) {
                mixed.append(i == 0 ? "" : ",").append(job(i % 2 == 0 ? DEEPSEEK : CODER, "mixed " + run + " " + i));
            }
            String mixedBatch = submit(mixed.append("]}").toString());
            awaitSucceeded(mixedBatch, 100);
            StringBuilder urgent = new StringBuilder("{\"name\": \"urgent " + run
                    + "\", \"mode\": \"parallel\", \"priority\": 0, \"jobs\": [");
            for (int i = 0; i < 20; i++) {
                urgent.append(i == 0 ? "" : ",").append(job(LLAMA, "urgent " + run + " " + i));
            }
            String urgentBatch = submit(urgent.append("]}").toString());
            awaitDone(mixedBatch);
            awaitDone(urgentBatch);
            List<Double> times = query("""
                    select extract(epoch from max(j.finished_at) - min(j.created_at)),
                           extract(epoch from max(a.started_at - j.created_at))
                    from job j join attempt a on a.job_id = j.id and a.status = 'success'
                    where j.batch_id = any (?::uuid[])""", List.of(mixedBatch, urgentBatch));
            List<Double> urgentTimes = query("""
                    select extract(epoch from min(a.started_at) - min(j.created_at)),
                           extract(epoch from min(a.finished_at) - min(j.created_at))
                    from job j join attempt a on a.job_id = j.id
                    where j.batch_id = any (?::uuid[])""", List.of(urgentBatch));
            int loads = gpus.stream().mapToInt(FakeOllama::loads).sum();
            System.out.printf("two models, %d slots each, max-affinity-wait %s: makespan %.1f s, %d loads (load avg %s)%n",
                    slots, maxAffinityWait, times.get(0), loads, Bench.load());
            return new Run(times.get(0), loads, times.get(1), urgentTimes.get(0), urgentTimes.get(1));
        } finally {
            stop(executors);
            gpus.forEach(FakeOllama::close);
        }
    }

    private static String job(String model, String prompt) {
        return "{\"type\": \"ollama.generate\", \"model\": \"" + model + "\", \"prompt\": \"slow:" + JOB_MILLIS + " "
                + prompt + "\"}";
    }

    /** Waits until at least {@code count} jobs of the batch succeeded. */
    private void awaitSucceeded(String batch, int count) throws IOException, InterruptedException {
        HttpRequest get = HttpRequest.newBuilder(URI.create(ledger + "/api/v1/summary?batch=" + batch)).build();
        while (json.readTree(http.send(get, HttpResponse.BodyHandlers.ofString()).body())
                .path("status_counts").path("success").asInt() < count) {
            Thread.sleep(20);
        }
    }

    // ---------------------------------------------------------------- helpers

    private List<ServiceProcess> startExecutors(FakeOllama ollama, int count, int slots) throws Exception {
        List<ServiceProcess> executors = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            executors.add(startExecutor("bench-executor-" + i, ollama, slots, Map.of()));
        }
        return executors;
    }

    private ServiceProcess startExecutor(String id, FakeOllama ollama, int slots, Map<String, String> settings)
            throws Exception {
        TestPostgres.Database db = new TestPostgres.Database("atelier", jdbcUrl, "postgres", "");
        Map<String, String> env = new HashMap<>(settings);
        env.put("ATELIER_EXECUTOR_ID", id);
        env.put("ATELIER_BACKENDS_OLLAMA_URL", ollama.url());
        env.put("ATELIER_BACKENDS_OLLAMA_SLOTS", Integer.toString(slots));
        env.putIfAbsent("ATELIER_BACKENDS_OLLAMA_NUM_PARALLEL", Integer.toString(slots));
        env.put("ATELIER_BACKENDS_COMFYUI_SLOTS", "0");
        env.put("QUARKUS_LOG_LEVEL", "WARN");
        env.put("JAVA_TOOL_OPTIONS", Bench.EXECUTOR_JVM);
        // the heap the JVM picks in a 512 MiB container (a quarter), given explicitly
        return ServiceProcess.start(id, executorJar, db, "128m", env);
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
