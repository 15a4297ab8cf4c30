package dev.atelier.ledger.rest;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;

import dev.atelier.ledger.LedgerData;
import dev.atelier.store.BatchMode;
import dev.atelier.store.ExportLog;
import dev.atelier.store.testing.Batches;
import dev.atelier.store.testing.PostgresTestResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Exports once retention has trimmed the start of the log (atelier.retention.export-lines): a full read starts at the
 * oldest line kept, and a reader resuming before it gets a 410 naming where to resume. A profile of its own gives it
 * a database of its own, since trimming changes the whole log.
 */
@QuarkusTest
@QuarkusTestResource(PostgresTestResource.class)
@TestProfile(TrimmedExportTests.OwnDatabase.class)
class TrimmedExportTests {

    public static class OwnDatabase implements QuarkusTestProfile {
    }

    @Inject
    LedgerData data;

    @Inject
    ExportLog log;

    @Test
    void aReaderBehindTheTrimmedStartIsToldWhereToResume() {
        for (int i = 0; i < 4; i++) {
            data.store(Batches.batch(BatchMode.PARALLEL).ollamaJobs(1, 1));
            data.claim("executor-a", 1).forEach(job -> data.succeed(job, "done"));
        }
        List<Long> seqs = ExportResourceTests.lines(given(), "/api/v1/exports/ledger.jsonl").stream()
                .map(l -> l.get("seq").asLong()).toList();
        assertThat(seqs).hasSize(4);
        data.inspect().execute("update ledger_line set occurred_at = now() - interval '400 days' where seq <= ?",
                seqs.get(1));
        assertThat(log.trimOlderThan(Duration.ofDays(365), null)).isPositive();
        long through = seqs.get(1);

        given().queryParam("after_seq", 0).get("/api/v1/exports/ledger.jsonl").then().statusCode(410)
                .contentType("application/problem+json")
                .body("status", equalTo(410))
                .body("detail", containsString("resume with after_seq=" + through));
        assertThat(ExportResourceTests.lines(given(), "/api/v1/exports/ledger.jsonl"))
                .as("a full read starts at the oldest line kept").extracting(l -> l.get("seq").asLong())
                .containsExactly(seqs.get(2), seqs.get(3));
        assertThat(ExportResourceTests.lines(given().queryParam("after_seq", through), "/api/v1/exports/ledger.jsonl"))
                .hasSize(2);
        assertThat(ExportResourceTests.lines(given().queryParam("after_seq", seqs.get(2)), "/api/v1/exports/ledger.jsonl"))
                .hasSize(1);
    }
}
