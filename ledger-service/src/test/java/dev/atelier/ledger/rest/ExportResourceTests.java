package dev.atelier.ledger.rest;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atelier.ledger.LedgerData;
import dev.atelier.store.BatchMode;
import dev.atelier.store.ClaimedJob;
import dev.atelier.store.NewBatch;
import dev.atelier.store.testing.Batches;
import dev.atelier.store.testing.PostgresTestResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.specification.RequestSpecification;
import jakarta.inject.Inject;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import javax.sql.DataSource;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

@QuarkusTest
@QuarkusTestResource(PostgresTestResource.class)
class ExportResourceTests {

    private static final ObjectMapper JSON = new ObjectMapper();

    @Inject
    LedgerData data;

    @Inject
    DataSource dataSource;

    /** The service's own mapper: snake_case, and it fails on a field the records do not name. */
    @Inject
    ObjectMapper mapper;

    @BeforeEach
    void clean() {
        data.closeOpenJobs();
    }

    static List<JsonNode> lines(RequestSpecification request, String path) {
        String body = request.get(path).then().statusCode(200).contentType("application/x-ndjson").extract().asString();
        List<JsonNode> lines = new ArrayList<>();
        for (String line : body.split("\n")) {
            if (!line.isEmpty()) {
                try {
                    lines.add(JSON.readTree(line));
                } catch (Exception e) {
                    throw new AssertionError("not a JSON line: " + line, e);
                }
            }
        }
        return lines;
    }

    /** A line PostgreSQL rendered, read into the record that documents its shape (LedgerViews). */
    private <T> T documented(JsonNode line, Class<T> shape) {
        try {
            return mapper.treeToValue(line, shape);
        } catch (Exception e) {
            throw new AssertionError("not a " + shape.getSimpleName() + ": " + line, e);
        }
    }

    @Test
    void theLedgerHasALinePerTerminalJobWithTheOldFieldNamesAndFilters() {
        NewBatch batch = data.store(Batches.batch(BatchMode.PARALLEL).retry(1, Duration.ZERO, 1.0).ollamaJobs(3, 1));
        List<ClaimedJob> claimed = data.claim("executor-a", 3);
        data.succeed(claimed.get(0), "Scorpion: a ninja spectre");
        data.fail(claimed.get(1), "HTTP 400 from Ollama: bad", false);
        data.succeed(claimed.get(2), "third");

        List<JsonNode> lines = lines(given().queryParam("batch", batch.id().toString()), "/api/v1/exports/ledger.jsonl");
        assertThat(lines).hasSize(3);
        JsonNode first = lines.get(0);
        assertThat(iterable(first.fieldNames())).containsExactly("seq", "job_id", "batch_id", "crew", "task", "status",
                "details", "timestamp", "metadata");
        assertThat(iterable(first.get("metadata").fieldNames())).containsExactly("attempts", "key", "priority", "model", "type");
        assertThat(first.get("status").asText()).isEqualTo("success");
        assertThat(first.get("details").asText()).isEqualTo("Scorpion: a ninja spectre");
        assertThat(first.get("crew").asText()).as("not a crew job: its type").isEqualTo("ollama.generate");
        assertThat(first.get("task").asText()).as("not a crew job: its key").isEqualTo(claimed.get(0).key());
        assertThat(first.get("metadata").get("attempts").asInt()).isEqualTo(1);
        assertThat(lines.stream().map(l -> l.get("seq").asLong()).toList()).isSorted();
        assertThat(lines).allSatisfy(l -> assertThat(documented(l, LedgerViews.LedgerLine.class).jobId())
                .isEqualTo(UUID.fromString(l.get("job_id").asText())));

        List<JsonNode> failed = lines(given().queryParam("batch", batch.id().toString()).queryParam("status", "failed"),
                "/api/v1/exports/ledger.jsonl");
        assertThat(failed).singleElement().satisfies(l -> assertThat(l.get("details").asText()).contains("HTTP 400"));

        long afterFirst = first.get("seq").asLong();
        assertThat(lines(given().queryParam("batch", batch.id().toString()).queryParam("after_seq", afterFirst),
                "/api/v1/exports/ledger.jsonl")).extracting(l -> l.get("seq").asLong())
                .containsExactly(lines.get(1).get("seq").asLong(), lines.get(2).get("seq").asLong());

        Instant at = Instant.parse(first.get("timestamp").asText());
        assertThat(lines(given().queryParam("batch", batch.id().toString()).queryParam("until", at.toString()),
                "/api/v1/exports/ledger.jsonl")).isEmpty();
        assertThat(lines(given().queryParam("batch", batch.id().toString()).queryParam("since", at.toString()),
                "/api/v1/exports/ledger.jsonl")).hasSize(3);
        assertThat(lines(given().queryParam("batch", batch.id().toString())
                .queryParam("since", at.plusSeconds(3600).toString()), "/api/v1/exports/ledger.jsonl")).isEmpty();
    }

    @Test
    void theEventsHaveALinePerSpentAttemptAndPerHandBack() {
        NewBatch batch = data.store(Batches.batch(BatchMode.PARALLEL).retry(3, Duration.ZERO, 1.0).ollamaJobs(1, 1));
        data.fail(data.claim("executor-a", 1).get(0), "HTTP 500 from Ollama: oom", true);
        data.handBack(data.claim("executor-a", 1).get(0), "ollama offline");
        data.succeed(data.claim("executor-b", 1).get(0), "done");

        List<JsonNode> events = lines(given().queryParam("batch", batch.id().toString()), "/api/v1/exports/events.jsonl");
        assertThat(events).extracting(e -> e.get("status").asText()).containsExactly("failed", "handed_back", "success");
        JsonNode first = events.get(0);
        assertThat(iterable(first.fieldNames())).containsExactly("seq", "timestamp", "task", "status", "elapsed_sec",
                "result_preview", "attempt", "executor", "job_id", "batch_id");
        assertThat(iterable(first.get("task").fieldNames())).containsExactly("crew", "task", "priority");
        assertThat(first.get("attempt").asInt()).isEqualTo(1);
        assertThat(events.get(1).get("attempt").isNull()).as("a hand-back has no attempt number").isTrue();
        assertThat(events.get(2).get("attempt").asInt()).isEqualTo(2);
        assertThat(events.get(2).get("result_preview").asText()).isEqualTo("done");
        assertThat(events.get(2).get("executor").asText()).isEqualTo("executor-b");
        assertThat(events).allSatisfy(e -> assertThat(documented(e, LedgerViews.EventLine.class).timestamp())
                .isEqualTo(Instant.parse(e.get("timestamp").asText())));

        assertThat(lines(given().queryParam("batch", batch.id().toString()).queryParam("status", "handed_back"),
                "/api/v1/exports/events.jsonl")).hasSize(1);
    }

    /**
     * Writers end jobs in transactions that commit in a random order, some held open while later ones commit, while
     * a reader keeps resuming with after_seq. When the writers are done, the reader has every line exactly once.
     */
    @Test
    void aResumingReaderNeverSkipsALineWhileWritersCommitOutOfOrder() throws Exception {
        int jobs = 300;
        NewBatch batch = data.store(Batches.batch(BatchMode.PARALLEL).ollamaJobs(jobs, 1));
        List<UUID> ids = batch.jobs().stream().map(j -> j.id()).toList();
        AtomicBoolean writing = new AtomicBoolean(true);
        ExecutorService pool = Executors.newFixedThreadPool(5);
        List<Future<?>> writers = new ArrayList<>();
        for (int w = 0; w < 4; w++) {
            int writer = w;
            writers.add(pool.submit(() -> {
                for (int i = writer; i < jobs; i += 4) {
                    try (Connection c = dataSource.getConnection()) {
                        c.setAutoCommit(false);
                        try (PreparedStatement ps = c.prepareStatement(
                                "update job set state = 'cancelled', finished_at = now() where id = ?")) {
                            ps.setObject(1, ids.get(i));
                            ps.executeUpdate();
                        }
                        // hold some commits back so that later transactions try to commit first
                        if (ThreadLocalRandom.current().nextInt(4) == 0) {
                            Thread.sleep(ThreadLocalRandom.current().nextInt(1, 15));
                        }
                        c.commit();
                    }
                }
                return null;
            }));
        }
        Future<Set<String>> reader = pool.submit(() -> {
            Set<String> seen = new HashSet<>();
            long after = 0;
            while (true) {
                boolean last = !writing.get();
                for (JsonNode line : lines(given().queryParam("batch", batch.id().toString()).queryParam("after_seq", after),
                        "/api/v1/exports/ledger.jsonl")) {
                    assertThat(line.get("seq").asLong()).isGreaterThan(after);
                    after = line.get("seq").asLong();
                    assertThat(seen.add(line.get("job_id").asText())).as("no line twice").isTrue();
                }
                if (last) {
                    return seen;
                }
            }
        });
        for (Future<?> w : writers) {
            w.get(60, TimeUnit.SECONDS);
        }
        writing.set(false);
        Set<String> seen = reader.get(60, TimeUnit.SECONDS);
        pool.shutdown();
        assertThat(seen).hasSize(jobs);
    }

    @Test
    void anUnknownBatchIsA404BeforeAnyLine() {
        given().queryParam("batch", UUID.randomUUID().toString()).get("/api/v1/exports/ledger.jsonl").then()
                .statusCode(404).contentType("application/problem+json");
    }

    @Test
    void aTimePastTheCalendarPostgresKeepsIsA400NamingTheParameter() {
        given().urlEncodingEnabled(true).queryParam("since", "+1000000000-01-01T00:00:00Z")
                .get("/api/v1/exports/ledger.jsonl").then().statusCode(400).contentType("application/problem+json")
                .body("errors.field", org.hamcrest.Matchers.hasItem("since"));
        given().queryParam("until", "+300000-01-01T00:00:00Z").get("/api/v1/exports/events.jsonl").then()
                .statusCode(400).body("errors.field", org.hamcrest.Matchers.hasItem("until"))
                .body("errors[0].message", org.hamcrest.Matchers.containsString("the times PostgreSQL can hold"));
        given().queryParam("since", "2026-01-12T02:00:00Z").get("/api/v1/exports/events.jsonl").then().statusCode(200);
    }

    private static List<String> iterable(java.util.Iterator<String> names) {
        List<String> list = new ArrayList<>();
        names.forEachRemaining(list::add);
        return list;
    }
}
