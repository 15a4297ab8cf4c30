package dev.atelier.bench;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import dev.atelier.store.JobCounts;
import dev.atelier.store.testing.HeapPeak;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * The ledger over a large table: 1,000,000 terminal jobs with their ledger lines, written with SQL. Prints the
 * export rate of ledger.jsonl (lines/s, read to the end over HTTP), the ledger's heap during it, and the summary's
 * response time (all jobs, and one batch).
 */
final class LedgerBench {

    private static final int BATCHES = 100;
    private static final int JOBS_PER_BATCH = 10_000;
    private static final int SUMMARY_RUNS = 21;

    private LedgerBench() {
    }

    static void run(String ledger, String jdbcUrl, Path root) throws Exception {
        String someBatch = fill(jdbcUrl);
        HttpClient http = HttpClient.newHttpClient();
        // the first export after the ledger starts runs while the JIT compiles its path; a studio's ledger has done
        // many, so the second is the figure the target is for
        export(http, ledger, "first after start", "—");
        long lines = export(http, ledger, "again", "≥ 200,000 lines/s");
        exportThroughTheCli(root, ledger, lines);
        long deltas = count(jdbcUrl, "select count(*) from job_count_delta");
        summary(http, ledger, "", "all jobs, " + deltas + " count deltas not yet folded");
        // what the executors' reap loop does every few seconds (no executor runs in the bench)
        PGSimpleDataSource postgres = new PGSimpleDataSource();
        postgres.setUrl(jdbcUrl);
        postgres.setUser("postgres");
        new JobCounts(postgres).compact();
        summary(http, ledger, "", "all jobs, counts folded");
        summary(http, ledger, "?batch=" + someBatch, "one batch");
    }

    private static long count(String jdbcUrl, String sql) throws Exception {
        try (Connection c = DriverManager.getConnection(jdbcUrl, "postgres", ""); Statement s = c.createStatement();
             var rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static String fill(String jdbcUrl) throws Exception {
        long started = System.nanoTime();
        try (Connection c = DriverManager.getConnection(jdbcUrl, "postgres", "");
             Statement s = c.createStatement()) {
            s.execute("""
                    insert into batch (id, name, mode, priority, max_attempts, retry_delay_ms, retry_backoff, job_count)
                    select gen_random_uuid(), 'bench export ' || b, 'parallel', 1, 3, 5000, 2.0, %d
                    from generate_series(1, %d) b""".formatted(JOBS_PER_BATCH, BATCHES));
            s.execute("""
                    insert into job (id, batch_id, position, key, priority, sequential, kind, type, model, model_key, spec,
                                     timeout_ms, state, attempt, attempts_used, max_attempts, started_at, finished_at, result)
                    select gen_random_uuid(), b.id, g, 'job-' || g, 1 + g %% 3, false, 'ollama', 'ollama.generate',
                           'deepseek-r1:32b', 'deepseek-r1:32b', '{"model": "deepseek-r1:32b", "prompt": "x"}', 600000, 'success', 1, 1, 3,
                           now(), now(), jsonb_build_object('text', 'Bark line ' || g || ': well met, traveller, the road is long')
                    from batch b cross join generate_series(0, %d) g
                    where b.name like 'bench export %%'""".formatted(JOBS_PER_BATCH - 1));
            s.execute("""
                    insert into ledger_line (job_id, batch_id, status, details, attempts, occurred_at,
                                             crew, task, key, priority, model, type)
                    select j.id, j.batch_id, j.state, left(j.result ->> 'text', 200), 1, j.finished_at,
                           j.type, j.key, j.key, j.priority, j.model, j.type
                    from job j join batch b on b.id = j.batch_id where b.name like 'bench export %'
                    order by j.batch_id, j.position""");
            // numbered and rendered as the executors' reap loop would, in one round
            s.execute("select number_export_lines(%d)".formatted(BATCHES * JOBS_PER_BATCH));
            s.execute("analyze");
            try (var rs = s.executeQuery("select id from batch where name = 'bench export 1'")) {
                rs.next();
                System.out.printf("ledger table: %,d terminal jobs and ledger lines written with SQL in %.0f s%n",
                        BATCHES * JOBS_PER_BATCH, (System.nanoTime() - started) / 1e9);
                return rs.getString(1);
            }
        }
    }

    /** The same export as a user runs it: {@code ./atelier export ledger -o FILE}, JVM start included. */
    private static void exportThroughTheCli(Path root, String ledger, long expected) throws Exception {
        Path file = Files.createTempFile("atelier-bench-export-", ".jsonl");
        try {
            Files.delete(file); // the CLI would resume an existing file
            long started = System.nanoTime();
            Process cli = new ProcessBuilder(root.resolve("atelier").toString(), "export", "ledger", "--ledger", ledger,
                    "-o", file.toString()).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .start();
            if (cli.waitFor() != 0) {
                throw new IllegalStateException("atelier export exited " + cli.exitValue());
            }
            double seconds = (System.nanoTime() - started) / 1e9;
            long lines;
            try (var read = Files.lines(file)) {
                lines = read.count();
            }
            if (lines != expected) {
                throw new IllegalStateException("atelier export wrote " + lines + " lines, the ledger has " + expected);
            }
            Bench.figure(String.format("export through atelier export -o, %,d lines", lines),
                    String.format("%,.0f lines/s (%.1f s, JVM start included)", lines / seconds, seconds), "—");
        } finally {
            Files.deleteIfExists(file);
        }
    }

    private static long export(HttpClient http, String ledger, String which, String target) throws Exception {
        long lines = 0;
        long bytes = 0;
        long peakHeap;
        long started = System.nanoTime();
        HttpResponse<java.io.InputStream> response = http.send(
                HttpRequest.newBuilder(URI.create(ledger + "/api/v1/exports/ledger.jsonl")).build(),
                HttpResponse.BodyHandlers.ofInputStream());
        try (HeapPeak heap = new HeapPeak(ledger);
             BufferedReader reader = new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = reader.readLine()) != null) {
                lines++;
                bytes += line.length() + 1;
            }
            peakHeap = heap.bytes();
        }
        double seconds = (System.nanoTime() - started) / 1e9;
        Bench.figure(String.format("export ledger.jsonl, %,d lines (%,d MB), %s", lines, bytes >> 20, which),
                String.format("%,.0f lines/s (%.1f s); ledger heap peak %,d MB", lines / seconds, seconds,
                        peakHeap >> 20), target);
        return lines;
    }

    private static void summary(HttpClient http, String ledger, String query, String what) throws Exception {
        HttpRequest request = HttpRequest.newBuilder(URI.create(ledger + "/api/v1/summary" + query)).build();
        List<Double> millis = new ArrayList<>();
        for (int i = 0; i < SUMMARY_RUNS + 5; i++) {
            long started = System.nanoTime();
            HttpResponse<String> answer = http.send(request, HttpResponse.BodyHandlers.ofString());
            if (answer.statusCode() != 200) {
                throw new IllegalStateException("summary answered " + answer.statusCode() + ": " + answer.body());
            }
            if (i >= 5) {
                millis.add((System.nanoTime() - started) / 1e6);
            }
        }
        Collections.sort(millis);
        Bench.figure(String.format("summary (%s) over %,d+ jobs, %d runs", what, BATCHES * JOBS_PER_BATCH, SUMMARY_RUNS),
                String.format("median %.1f ms, p95 %.1f ms", millis.get(millis.size() / 2),
                        millis.get((int) (millis.size() * 0.95))), "—");
    }
}
