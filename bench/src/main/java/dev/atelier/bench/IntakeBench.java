package dev.atelier.bench;

import dev.atelier.launcher.LocalStack;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * How long the gateway takes to accept a 10,000-job batch (201 received), median of 5 runs after 5 warm-up runs
 * (the JIT needs them on 2 cores).
 * Starts the packaged stack on a throwaway PostgreSQL (durable settings, as the local run) unless
 * {@code ATELIER_GATEWAY_URL} names a running gateway.
 */
public final class IntakeBench {

    private static final int JOBS = 10_000;
    private static final int RUNS = 5;
    private static final int WARM_UP = 5;

    public static void main(String[] args) throws Exception {
        Path root = Path.of(args.length > 0 ? args[0] : ".").toAbsolutePath().normalize();
        String url = System.getenv("ATELIER_GATEWAY_URL");
        LocalStack stack = null;
        Path data = null;
        if (url == null) {
            data = Files.createTempDirectory("atelier-bench-");
            Map<String, Integer> ports = new LinkedHashMap<>();
            ports.put("gateway", freePort());
            ports.put("ledger", freePort());
            // no executor: nothing may claim the jobs while intake is measured
            stack = new LocalStack(new LocalStack.Settings(root, data, freePort(), ports, Map.of()),
                    new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
            stack.start();
            url = "http://localhost:" + ports.get("gateway");
        }
        try {
            run(url);
        } finally {
            if (stack != null) {
                stack.close();
                try (var files = Files.walk(data)) {
                    files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                }
            }
        }
    }

    private static void run(String gateway) throws Exception {
        String body = batch();
        HttpClient http = HttpClient.newHttpClient();
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(gateway + "/api/v1/batches"))
                .header("Content-Type", "application/json");
        String token = System.getenv("ATELIER_TOKEN");
        if (token != null) {
            request.header("Authorization", "Bearer " + token);
        }
        HttpRequest post = request.POST(HttpRequest.BodyPublishers.ofString(body)).build();
        List<Double> millis = new ArrayList<>();
        for (int run = 0; run < WARM_UP + RUNS; run++) {
            long started = System.nanoTime();
            HttpResponse<String> answer = http.send(post, HttpResponse.BodyHandlers.ofString());
            double took = (System.nanoTime() - started) / 1e6;
            if (answer.statusCode() != 201) {
                throw new IllegalStateException("the gateway answered " + answer.statusCode() + ": " + answer.body());
            }
            if (run >= WARM_UP) {
                millis.add(took);
            }
        }
        List<Double> sorted = new ArrayList<>(millis);
        Collections.sort(sorted);
        System.out.printf("intake of a %,d-job batch (%,d bytes), %d runs: %s ms; median %.0f ms%n", JOBS,
                body.getBytes(StandardCharsets.UTF_8).length, RUNS,
                millis.stream().map(m -> String.format("%.0f", m)).toList(), sorted.get(RUNS / 2));
    }

    private static String batch() {
        StringBuilder json = new StringBuilder("{\"name\": \"bench\", \"mode\": \"parallel\", \"jobs\": [");
        for (int i = 0; i < JOBS; i++) {
            json.append(i == 0 ? "" : ",").append("{\"key\": \"line-").append(i)
                    .append("\", \"type\": \"ollama.generate\", \"model\": \"deepseek-r1:32b\", \"prompt\": \"Write bark line ")
                    .append(i).append(" for a tavern keeper\", \"options\": {\"temperature\": 0.7}}");
        }
        return json.append("]}").toString();
    }

    private static int freePort() throws Exception {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }
}
