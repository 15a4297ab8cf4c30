package dev.atelier.store;

import static dev.atelier.store.testing.Batches.batch;
import static dev.atelier.store.testing.ExportLines.lines;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atelier.store.ExportLog.ExportFilter;
import dev.atelier.store.testing.Inspect;
import dev.atelier.store.testing.TestPostgres;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.Test;

/**
 * The export lines as PostgreSQL renders them (V14__self_contained_export_lines.sql): valid JSON whatever the texts
 * hold, the fields API.md names, and everything a line shows stored on the line itself.
 */
class ExportLineTests extends QueueTestBase {

    private static final ObjectMapper JSON = new ObjectMapper();
    /** Everything JSON must escape, and what it need not: quotes, backslash, controls, line separators, emoji. */
    private static final String ODD_TEXT = "He said \"run\"\\ \n\ttab \u0001\u001f \u2028\u2029 é 漢字 🎮 </script>";

    @Test
    void linesAreJsonWithTheFieldsApiMdNamesWhateverTheTextsHold() throws Exception {
        NewBatch b = batch(BatchMode.PARALLEL).crewJob("mk1", "Scorpion \"Hanzo\" \\ \u0007").ollamaJobs(1, 2).build();
        intake.insertBatch(b);
        List<ClaimedJob> claimed = claimOllama(2);
        ClaimedJob crewJob = claimed.stream().filter(j -> j.id().equals(b.jobs().get(0).id())).findFirst().orElseThrow();
        ClaimedJob plainJob = claimed.stream().filter(j -> j != crewJob).findFirst().orElseThrow();
        ObjectNode result = JSON.createObjectNode().put("text", ODD_TEXT);
        outcomes.finish(List.of(
                new AttemptOutcome.Success(crewJob.id(), crewJob.leaseToken(), result.toString()),
                new AttemptOutcome.Failure(plainJob.id(), plainJob.leaseToken(), "HTTP 400: \"bad\"\n" + ODD_TEXT,
                        false)), null);

        List<JsonNode> ledger = lines(exports.ledgerAfter(ExportFilter.ALL, 0, 10));
        assertThat(ledger).hasSize(2);
        JsonNode crewLine = ledger.stream().filter(l -> l.get("status").asText().equals("success")).findFirst()
                .orElseThrow();
        assertThat(iterable(crewLine.fieldNames())).containsExactly("seq", "job_id", "batch_id", "crew", "task",
                "status", "details", "timestamp", "metadata");
        assertThat(crewLine.get("crew").asText()).isEqualTo("mk1");
        assertThat(crewLine.get("task").asText()).isEqualTo("Scorpion \"Hanzo\" \\ \u0007");
        assertThat(crewLine.get("details").asText()).isEqualTo(ODD_TEXT);
        assertThat(crewLine.get("batch_id").asText()).isEqualTo(b.id().toString());
        JsonNode metadata = crewLine.get("metadata");
        assertThat(iterable(metadata.fieldNames())).containsExactly("attempts", "key", "priority", "model", "type");
        assertThat(metadata.get("attempts").isInt()).isTrue();
        assertThat(metadata.get("model").asText()).isEqualTo(dev.atelier.store.testing.Batches.MODEL);
        assertThat(metadata.get("type").asText()).isEqualTo("ollama.generate");

        JsonNode plainLine = ledger.stream().filter(l -> l.get("status").asText().equals("failed")).findFirst()
                .orElseThrow();
        assertThat(plainLine.get("crew").asText()).as("a job that is not a crew job shows its type").isEqualTo(
                "ollama.generate");
        assertThat(plainLine.get("task").asText()).as("and its key").isEqualTo(plainJob.key());
        assertThat(plainLine.get("details").asText()).startsWith("HTTP 400: \"bad\"\n");
        assertThat(plainLine.get("metadata").get("priority").asInt()).isEqualTo(2);

        List<JsonNode> events = lines(exports.eventsAfter(ExportFilter.ALL, 0, 10));
        assertThat(events).hasSize(2);
        JsonNode event = events.stream().filter(l -> l.get("status").asText().equals("success")).findFirst()
                .orElseThrow();
        assertThat(iterable(event.fieldNames())).containsExactly("seq", "timestamp", "task", "status", "elapsed_sec",
                "result_preview", "attempt", "executor", "job_id", "batch_id");
        assertThat(event.get("task").get("crew").asText()).isEqualTo("mk1");
        assertThat(event.get("task").get("priority").asInt()).isEqualTo(1);
        assertThat(event.get("elapsed_sec").isNumber()).isTrue();
        assertThat(event.get("result_preview").asText()).isEqualTo(ODD_TEXT);
        assertThat(event.get("attempt").asInt()).isEqualTo(1);
        assertThat(event.get("executor").asText()).isEqualTo(EXECUTOR);
    }

    @Test
    void theTimestampIsTheStoredInstantInUtcWithMicroseconds() {
        NewBatch b = batch(BatchMode.PARALLEL).ollamaJobs(2, 1).build();
        intake.insertBatch(b);
        // a whole second, where a formatter that drops zeros would print no fraction, and one with microseconds
        inspect.execute("update job set state = 'cancelled', finished_at = '2026-01-12T02:00:00Z' where id = ?",
                b.jobs().get(0).id());
        inspect.execute("update job set state = 'cancelled', finished_at = '2026-01-12T03:04:05.000123+02' where id = ?",
                b.jobs().get(1).id());
        List<String> stamps = lines(exports.ledgerAfter(ExportFilter.ALL, 0, 10)).stream()
                .map(l -> l.get("timestamp").asText()).toList();
        assertThat(stamps).containsExactly("2026-01-12T02:00:00.000000Z", "2026-01-12T01:04:05.000123Z");
        assertThat(Instant.parse(stamps.get(1))).isEqualTo(OffsetDateTime.parse("2026-01-12T03:04:05.000123+02:00")
                .toInstant());
    }

    @Test
    void maintenanceSkipsTheNumberingWhileAnotherRoundHoldsItAndReadersStillGetTheirLines() throws Exception {
        NewBatch b = batch(BatchMode.PARALLEL).ollamaJobs(2, 1).build();
        intake.insertBatch(b);
        inspect.execute("update job set state = 'cancelled', finished_at = now()");
        String unnumbered = "select count(*) from ledger_line where seq is null";
        try (java.sql.Connection other = dataSource.getConnection()) {
            other.setAutoCommit(false);
            try (java.sql.Statement st = other.createStatement()) {
                st.execute("select pg_advisory_xact_lock(hashtext('atelier.number_export_lines'))");
            }
            long started = System.nanoTime();
            assertThat(exports.numberNewLinesUnlessBusy()).as("another round numbers: skipped").isZero();
            assertThat(Duration.ofNanos(System.nanoTime() - started)).as("without waiting for it")
                    .isLessThan(Duration.ofSeconds(2));
            assertThat(inspect.count(unnumbered)).isEqualTo(2);
            other.commit();
        }
        assertThat(exports.numberNewLinesUnlessBusy()).as("its turn once the other's ended").isEqualTo(2);
        assertThat(inspect.count(unnumbered)).isZero();
        assertThat(lines(exports.ledgerAfter(ExportFilter.ALL, 0, 10))).hasSize(2);
    }

    @Test
    void aLineShowsTheSameAfterItsBatchIsGone() {
        NewBatch b = batch(BatchMode.PARALLEL).crewJob("mk1", "Raiden").build();
        intake.insertBatch(b);
        succeed(claimOllama(1));
        String ledgerBefore = text(exports.ledgerAfter(ExportFilter.ALL, 0, 10));
        String eventsBefore = text(exports.eventsAfter(ExportFilter.ALL, 0, 10));
        assertThat(lines(exports.ledgerAfter(ExportFilter.ALL, 0, 10))).hasSize(1);

        inspect.execute("delete from batch where id = ?", b.id());
        assertThat(inspect.count("select count(*) from job")).isZero();

        assertThat(text(exports.ledgerAfter(ExportFilter.ALL, 0, 10)))
                .isEqualTo(ledgerBefore).contains("\"crew\":\"mk1\",\"task\":\"Raiden\"");
        assertThat(text(exports.eventsAfter(ExportFilter.ALL, 0, 10))).isEqualTo(eventsBefore);
        assertThat(lines(exports.ledgerAfter(new ExportFilter(b.id(), Set.of(), null, null), 0, 10)))
                .as("and its batch filter still finds it").hasSize(1);
    }

    @Test
    void everyFilterNarrowsBothStatements() {
        NewBatch one = batch(BatchMode.PARALLEL).ollamaJobs(3, 1).build();
        NewBatch two = batch(BatchMode.PARALLEL).ollamaJobs(2, 1).build();
        intake.insertBatch(one);
        intake.insertBatch(two);
        control.cancelJob(one.jobs().get(0).id(), null);
        List<ClaimedJob> claimed = claimOllama(4);
        assertThat(claimed).hasSize(4);
        succeed(claimed.subList(0, 2));
        failForGood(claimed.subList(2, 4));
        // before they are numbered, which renders them
        inspect.execute("update ledger_line set occurred_at = timestamptz '2026-01-01T00:00:00Z' + id * interval '1 hour'");

        List<JsonNode> all = lines(exports.ledgerAfter(ExportFilter.ALL, 0, 100));
        assertThat(all).hasSize(5);
        for (UUID batchId : List.of(one.id(), two.id())) {
            for (Set<String> statuses : List.of(Set.<String>of(), Set.of("success"), Set.of("failed", "cancelled"))) {
                for (Instant since : Arrays.asList(null, Instant.parse("2026-01-01T02:00:00Z"))) {
                    for (Instant until : Arrays.asList(null, Instant.parse("2026-01-01T04:00:00Z"))) {
                        for (UUID filterBatch : Arrays.asList(null, batchId)) {
                            ExportFilter filter = new ExportFilter(filterBatch, statuses, since, until);
                            List<JsonNode> expected = all.stream()
                                    .filter(l -> filterBatch == null
                                            || l.get("batch_id").asText().equals(filterBatch.toString()))
                                    .filter(l -> statuses.isEmpty() || statuses.contains(l.get("status").asText()))
                                    .filter(l -> since == null || !Instant.parse(l.get("timestamp").asText())
                                            .isBefore(since))
                                    .filter(l -> until == null || Instant.parse(l.get("timestamp").asText())
                                            .isBefore(until))
                                    .toList();
                            assertThat(lines(exports.ledgerAfter(filter, 0, 100))).as(filter.toString())
                                    .isEqualTo(expected);
                            // resuming after the first line the filter gives skips exactly that line
                            if (!expected.isEmpty()) {
                                long first = expected.get(0).get("seq").asLong();
                                assertThat(lines(exports.ledgerAfter(filter, first, 100))).as(filter + " after " + first)
                                        .isEqualTo(expected.subList(1, expected.size()));
                            }
                        }
                    }
                }
            }
        }
        List<JsonNode> events = lines(exports.eventsAfter(new ExportFilter(two.id(), Set.of("failed"), null, null), 0,
                100));
        assertThat(events).allSatisfy(e -> {
            assertThat(e.get("batch_id").asText()).isEqualTo(two.id().toString());
            assertThat(e.get("status").asText()).isEqualTo("failed");
        });
        assertThat(lines(exports.eventsAfter(ExportFilter.ALL, 0, 100))).hasSize(4);
    }

    @Test
    void linesWrittenBeforeV14AreFilledFromTheirJobs() {
        TestPostgres.Database old = TestPostgres.get().newEmptyDatabase();
        Flyway.configure().dataSource(old.dataSource()).target("13").load().migrate();
        Inspect before = new Inspect(old.dataSource());
        // written as V13 knew them: today's intake writes columns V13 does not have
        UUID batchId = UUID.randomUUID();
        before.execute("""
                insert into batch (id, name, mode, priority, max_attempts, retry_delay_ms, retry_backoff, job_count)
                values (?, 'before V14', 'parallel', 1, 3, 5000, 2.0, 2)""", batchId);
        before.execute("""
                insert into job (id, batch_id, position, key, priority, sequential, kind, type, model, model_key, crew,
                                 task, spec, timeout_ms, max_attempts)
                values (gen_random_uuid(), ?, 0, 'job-0', 1, false, 'ollama', 'ollama.generate', 'deepseek-r1:32b',
                        'deepseek-r1:32b', 'mk1', 'Sub-Zero', '{}', 600000, 3),
                       (gen_random_uuid(), ?, 1, 'job-1', 3, false, 'ollama', 'ollama.generate', 'deepseek-r1:32b',
                        'deepseek-r1:32b', null, null, '{}', 600000, 3)""", batchId, batchId);
        before.execute("update job set state = 'cancelled', finished_at = now()");
        before.execute("""
                insert into ledger_line (job_id, batch_id, status, details, attempts, occurred_at)
                values (gen_random_uuid(), gen_random_uuid(), 'failed', 'its job is gone', 1, now())""");
        assertThat(before.count("select number_export_lines(10)")).as("numbered, so V14 renders them").isEqualTo(3);

        Flyway.configure().dataSource(old.dataSource()).load().migrate();

        List<JsonNode> ledger = lines(new ExportLog(old.dataSource()).ledgerAfter(ExportFilter.ALL, 0, 10));
        assertThat(ledger).extracting(l -> l.get("crew").asText() + "/" + l.get("task").asText() + "/"
                        + l.get("metadata").get("priority").asInt())
                .containsExactlyInAnyOrder("mk1/Sub-Zero/1", "ollama.generate/job-1/3", "//0");
    }

    private static String text(ExportLog.Page page) {
        return String.join("\n", page.lines().stream().map(l -> new String(l, StandardCharsets.UTF_8)).toList());
    }

    private static <T> Iterable<T> iterable(java.util.Iterator<T> it) {
        return () -> it;
    }
}
