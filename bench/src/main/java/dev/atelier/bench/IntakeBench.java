package dev.atelier.bench;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * How long the gateway takes to accept a 10,000-job batch (201 received), median of 5 runs after 5 warm-up runs
 * (the JIT needs them on 2 cores).
 */
public final class IntakeBench {

    private static final int JOBS = 10_000;
    private static final int RUNS = 5;
    private static final int WARM_UP = 5;

    static void run(String gateway) throws Exception {
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
            if (run >= WARM_UP) {
                Bench.awaitQuiet("intake run " + (run - WARM_UP + 1));
            }
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
        double median = sorted.get(RUNS / 2);
        Bench.figure(String.format("intake, %,d-job batch (%,d KB), median of %d", JOBS,
                        body.getBytes(StandardCharsets.UTF_8).length >> 10, RUNS),
                String.format("%.0f ms = %,.0f jobs/s (runs %s)", median, JOBS / (median / 1000),
                        millis.stream().map(m -> String.format("%.0f", m)).toList()), "≤ 250 ms",
                JOBS / (median / 1000), PeerFigures::bulkEnqueue, "jobs/s");
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
}
