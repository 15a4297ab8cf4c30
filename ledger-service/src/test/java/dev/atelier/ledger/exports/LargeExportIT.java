package dev.atelier.ledger.exports;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atelier.store.testing.HeapPeak;
import dev.atelier.store.testing.Inspect;
import dev.atelier.store.testing.ServiceProcess;
import dev.atelier.store.testing.TestPostgres;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The packaged ledger, run with a 128 MB heap, exports 200,000 ledger lines (about 90 MB of JSON, so buffering the
 * export could not fit), resumes after a disconnect without a gap, and is left holding no database connection by
 * clients that hang up mid-stream. It runs with auth on, as packaged, with a read token.
 */
class LargeExportIT {

    private static final int JOBS = 200_000;
    private static final String TOKEN = "export-reader-secret";
    /** A token of its own for the readers that stop reading, so its cap touches no other test. */
    private static final String STALLING_TOKEN = "stalling-reader-secret";
    /** The idle timeout (the export's write timeout) and the cap per token this ledger runs with. */
    private static final Duration IDLE_TIMEOUT = Duration.ofSeconds(3);
    private static final int EXPORTS_PER_TOKEN = 2;
    private static final ObjectMapper JSON = new ObjectMapper();

    static TestPostgres.Database db;
    static Inspect inspect;
    static ServiceProcess ledger;
    static final HttpClient HTTP = HttpClient.newHttpClient();

    @BeforeAll
    static void twoHundredThousandTerminalJobs() throws Exception {
        db = TestPostgres.get().newDatabase();
        inspect = new Inspect(db.dataSource());
        inspect.execute("""
                insert into batch (id, name, mode, priority, max_attempts, retry_delay_ms, retry_backoff, job_count)
                select gen_random_uuid(), 'export ' || b, 'parallel', 1, 3, 5000, 2.0, 10000 from generate_series(1, 20) b""");
        inspect.execute("""
                insert into job (id, batch_id, position, key, priority, sequential, kind, type, model, model_key, spec,
                                 timeout_ms, state, attempt, attempts_used, max_attempts, started_at, finished_at, result)
                select gen_random_uuid(), b.id, g, 'job-' || g, 1 + g % 3, false, 'ollama', 'ollama.generate', 'deepseek-r1:32b',
                       'deepseek-r1:32b',
                       '{"model": "deepseek-r1:32b", "prompt": "x"}', 600000, 'success', 1, 1, 3, now(), now(),
                       jsonb_build_object('text', 'Line ' || g || ' of ' || b.name || ':' || repeat(' the studio''s roster', 12))
                from batch b, generate_series(0, 9999) g""");
        inspect.execute("""
                insert into ledger_line (job_id, batch_id, status, details, attempts, occurred_at,
                                         crew, task, key, priority, model, type)
                select j.id, j.batch_id, 'success', left(j.result ->> 'text', 200), 1, j.finished_at,
                       j.type, j.key, j.key, j.priority, j.model, j.type
                from job j order by j.batch_id, j.position""");
        inspect.count("select number_export_lines(1000000)"); // renders each line, as the reap loop would
        ledger = ServiceProcess.start("ledger", db, "128m", Map.of(
                "ATELIER_AUTH_TOKENS", "export-reader:read:" + sha256(TOKEN) + ",stalling-reader:read:" + sha256(STALLING_TOKEN),
                "QUARKUS_HTTP_IDLE_TIMEOUT", IDLE_TIMEOUT.toString(),
                "ATELIER_LEDGER_EXPORTS_PER_TOKEN", Integer.toString(EXPORTS_PER_TOKEN)));
    }

    @AfterAll
    static void stop() throws Exception {
        if (ledger != null) {
            ledger.close();
        }
    }

    private static String sha256(String text) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
    }

    private static HttpResponse<InputStream> export(long afterSeq) throws Exception {
        return export(HTTP, afterSeq);
    }

    private static HttpResponse<InputStream> export(HttpClient http, long afterSeq) throws Exception {
        HttpRequest request = HttpRequest.newBuilder(URI.create(ledger.url() + "/api/v1/exports/ledger.jsonl?after_seq=" + afterSeq))
                .header("Authorization", "Bearer " + TOKEN).build();
        HttpResponse<InputStream> response = http.send(request, HttpResponse.BodyHandlers.ofInputStream());
        assertThat(response.statusCode()).isEqualTo(200);
        return response;
    }

    @Test
    void theWholeExportStreamsInOrderWithinASmallHeapAndResumesExactly() throws Exception {
        long lines = 0;
        long bytes = 0;
        long expectedSeq = 1;
        long started = System.nanoTime();
        long peakHeap;
        try (HeapPeak heap = new HeapPeak(ledger.url());
             BufferedReader reader = new BufferedReader(new InputStreamReader(export(0).body(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = reader.readLine()) != null) {
                JsonNode json = JSON.readTree(line);
                assertThat(json.get("seq").asLong()).as("line %d in order, none missing", lines).isEqualTo(expectedSeq);
                assertThat(json.get("status").asText()).isEqualTo("success");
                assertThat(json.get("job_id").asText()).hasSize(36);
                expectedSeq++;
                lines++;
                bytes += line.length() + 1;
            }
            peakHeap = heap.bytes();
        }
        double seconds = (System.nanoTime() - started) / 1e9;
        System.out.printf("exported %,d lines (%,d bytes) in %.1f s: %,.0f lines/s; ledger heap peak %,d bytes (-Xmx128m)%n",
                lines, bytes, seconds, lines / seconds, peakHeap);
        assertThat(lines).isEqualTo(JOBS);
        assertThat(bytes).as("more bytes than a 128 MB heap could buffer beside the application").isGreaterThan(64L << 20);
        assertThat(ledger.isAlive()).isTrue();

        // read part, hang up, resume after the last seq seen: exactly the rest
        long lastSeen = 0;
        HttpResponse<InputStream> partial = export(HttpClient.newHttpClient(), 0);
        try (BufferedReader reader = new BufferedReader(new InputStreamReader(partial.body(), StandardCharsets.UTF_8))) {
            for (int i = 0; i < 12_345; i++) {
                lastSeen = JSON.readTree(reader.readLine()).get("seq").asLong();
            }
        }
        long next = lastSeen + 1;
        long rest = 0;
        try (BufferedReader reader = new BufferedReader(new InputStreamReader(export(lastSeen).body(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = reader.readLine()) != null) {
                assertThat(JSON.readTree(line).get("seq").asLong()).isEqualTo(next++);
                rest++;
            }
        }
        assertThat(lastSeen).isEqualTo(12_345);
        assertThat(rest).isEqualTo(JOBS - 12_345);
    }

    @Test
    void clientsThatHangUpMidStreamLeaveNoConnectionBehind() throws Exception {
        URI base = URI.create(ledger.url());
        for (int i = 0; i < 30; i++) {
            // a real hang-up: the socket closed mid-body. (Java's HttpClient keeps an HTTP/1.1 connection open after
            // its body stream is closed early, until the client is collected, so it is not a client that hung up.)
            try (java.net.Socket socket = new java.net.Socket(base.getHost(), base.getPort())) {
                socket.getOutputStream().write(("GET /api/v1/exports/ledger.jsonl?after_seq=" + i * 1000L + " HTTP/1.1\r\n"
                        + "Host: " + base.getHost() + "\r\nAuthorization: Bearer " + TOKEN + "\r\n\r\n")
                        .getBytes(StandardCharsets.US_ASCII));
                byte[] read = socket.getInputStream().readNBytes(50_000);
                assertThat(new String(read, 0, 12, StandardCharsets.US_ASCII)).isEqualTo("HTTP/1.1 200");
            }
        }
        // more hang-ups than the ledger's pool has connections: it still answers
        HttpResponse<String> summary = HTTP.send(HttpRequest.newBuilder(URI.create(ledger.url() + "/api/v1/summary"))
                .header("Authorization", "Bearer " + TOKEN).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(summary.statusCode()).isEqualTo(200);
        assertThat(JSON.readTree(summary.body()).get("total_tasks").asLong()).isEqualTo(JOBS);

        // and no session of its is left inside a transaction or running a query: the hung-up exports stopped. (Once
        // idle, stays idle for 2 s: an export still streaming into a closed connection reads a page every few ms.)
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        long quietSince = System.nanoTime();
        String busy;
        do {
            Thread.sleep(100);
            busy = busySessions();
            if (!busy.isEmpty()) {
                quietSince = System.nanoTime();
            }
        } while (System.nanoTime() - quietSince < Duration.ofSeconds(2).toNanos() && System.nanoTime() < deadline);
        assertThat(busy).as("sessions busy 10 s after 30 clients hung up mid-export").isEmpty();
    }

    /** The ledger's sessions running a query or inside a transaction, with what they run, or "" when none. */
    private static String busySessions() throws Exception {
        try (java.sql.Connection c = db.dataSource().getConnection();
             java.sql.ResultSet rs = c.createStatement().executeQuery("select coalesce(string_agg(state || ': ' "
                     + "|| left(query, 80), '; '), '') from pg_stat_activity where datname = current_database() "
                     + "and pid <> pg_backend_pid() and state in ('active', 'idle in transaction')")) {
            rs.next();
            return rs.getString(1);
        }
    }

    @Test
    void readersThatStopReadingAreCutOffAndATokensExportsAreCapped() throws Exception {
        // exports whose reader reads nothing: the socket buffers fill and the ledger's writes stall
        java.util.List<java.net.Socket> stalled = new java.util.ArrayList<>();
        try {
            for (int i = 0; i < EXPORTS_PER_TOKEN; i++) {
                stalled.add(stalledExport());
            }
            Thread.sleep(500);
            HttpResponse<String> refused = HTTP.send(exportRequest(STALLING_TOKEN), HttpResponse.BodyHandlers.ofString());
            assertThat(refused.statusCode()).as(refused.body()).isEqualTo(429);
            assertThat(refused.headers().firstValue("Content-Type")).hasValue("application/problem+json");
            assertThat(refused.headers().firstValue("Retry-After")).isPresent();
            assertThat(JSON.readTree(refused.body()).get("detail").asText())
                    .contains("2 exports are streaming for the token 'stalling-reader'", "atelier.ledger.exports-per-token");
            // another token is not held back by this one's readers
            try (InputStream other = export(HttpClient.newHttpClient(), 0).body()) {
                assertThat(other.readNBytes(10_000)).hasSize(10_000);
            }

            // past the idle timeout the stalled exports are cut off, which gives their slots back
            long stalledAt = System.nanoTime();
            long waited;
            while (true) {
                HttpResponse<InputStream> again = HttpClient.newHttpClient().send(exportRequest(STALLING_TOKEN),
                        HttpResponse.BodyHandlers.ofInputStream());
                again.body().close();
                waited = (System.nanoTime() - stalledAt) / 1_000_000;
                if (again.statusCode() == 200) {
                    break;
                }
                assertThat(waited).as("cut off within the idle timeout and a margin").isLessThan(IDLE_TIMEOUT.toMillis() * 5);
                Thread.sleep(250);
            }
            System.out.printf("stalled exports cut off, and their slots free, %d ms after the cap refused a third"
                    + " (idle timeout %s)%n", waited, IDLE_TIMEOUT);
            for (java.net.Socket socket : stalled) {
                // what the ledger wrote before it stalled, then the end: the connection is closed
                socket.setSoTimeout(10_000);
                InputStream in = socket.getInputStream();
                try {
                    while (in.read(new byte[65_536]) >= 0) {
                        // drain what was buffered
                    }
                } catch (java.net.SocketException reset) {
                    // closed with unread data: a reset, also an end
                }
            }
        } finally {
            for (java.net.Socket socket : stalled) {
                socket.close();
            }
        }
    }

    private static HttpRequest exportRequest(String token) {
        return HttpRequest.newBuilder(URI.create(ledger.url() + "/api/v1/exports/ledger.jsonl"))
                .header("Authorization", "Bearer " + token).timeout(Duration.ofSeconds(10)).build();
    }

    /** An export requested over a socket with a small receive buffer that is never read. */
    private static java.net.Socket stalledExport() throws Exception {
        java.net.Socket socket = new java.net.Socket();
        socket.setReceiveBufferSize(4096);
        URI url = URI.create(ledger.url());
        socket.connect(new java.net.InetSocketAddress(url.getHost(), url.getPort()), 5_000);
        socket.getOutputStream().write(("GET /api/v1/exports/ledger.jsonl HTTP/1.1\r\nHost: " + url.getHost()
                + "\r\nAuthorization: Bearer " + STALLING_TOKEN + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        socket.getOutputStream().flush();
        return socket;
    }
}
