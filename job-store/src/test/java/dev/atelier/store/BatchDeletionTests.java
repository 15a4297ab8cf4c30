package dev.atelier.store;

import static dev.atelier.store.testing.Batches.batch;
import static dev.atelier.store.testing.ExportLines.lines;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atelier.store.Artifacts.NewArtifact;
import dev.atelier.store.ExportLog.ExportFilter;
import dev.atelier.store.testing.Batches;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** Deleting a batch (API.md, "Deleting"), and idempotency keys that outlive their batch for 24 hours. */
class BatchDeletionTests extends QueueTestBase {

    private static final byte[] SHARED = "pixels two batches made".getBytes(StandardCharsets.UTF_8);
    private static final byte[] OWN = "pixels only the first made".getBytes(StandardCharsets.UTF_8);

    private ClaimedJob claimComfy() {
        return claims.claim(EXECUTOR, Map.of("comfyui", 1), List.of(), LEASE, null).get(0);
    }

    /** A finished one-workflow batch whose job stored these outputs. */
    private UUID finishedBatchWithOutputs(byte[]... outputs) {
        return finishedBatchWithOutputs(batch(BatchMode.PARALLEL), outputs);
    }

    private UUID finishedBatchWithOutputs(Batches batch, byte[]... outputs) {
        NewBatch b = batch.jobs(1, 1, "comfyui.workflow", null).build();
        intake.insertBatch(b);
        ClaimedJob job = claimComfy();
        Artifacts artifacts = new Artifacts(dataSource);
        for (int i = 0; i < outputs.length; i++) {
            artifacts.store(job.id(), job.leaseToken(), job.attempt(),
                    List.of(NewArtifact.of("out_" + i + ".png", "image/png", outputs[i]))).orElseThrow();
        }
        succeed(List.of(job));
        return b.id();
    }

    private long rowsOf(UUID batch) {
        return inspect.count("select (select count(*) from batch where id = '" + batch + "')"
                + " + (select count(*) from job where batch_id = '" + batch + "')"
                + " + (select count(*) from attempt a join job j on j.id = a.job_id where j.batch_id = '" + batch + "')"
                + " + (select count(*) from job_count where batch_id = '" + batch + "')"
                + " + (select count(*) from job_count_delta where batch_id = '" + batch + "')"
                + " + (select count(*) from batch_turn where batch_id = '" + batch + "')"
                + " + (select count(*) from artifact a join job j on j.id = a.job_id where j.batch_id = '" + batch + "')");
    }

    private long successes() {
        return new JobCounts(dataSource).byState(null, Map.of()).get(JobState.SUCCESS);
    }

    @Test
    void aFinishedBatchGoesWithEverythingItAloneUsedAndItsExportLinesStay() {
        UUID first = finishedBatchWithOutputs(SHARED, OWN);
        UUID second = finishedBatchWithOutputs(SHARED);
        exports.numberNewLines();
        long secondRows = rowsOf(second);
        long successesBefore = successes();
        assertThat(rowsOf(first)).isPositive();
        assertThat(inspect.count("select count(*) from artifact_blob")).isEqualTo(2);

        BatchDeletion.Outcome outcome = new BatchDeletion(dataSource).delete(first);

        assertThat(outcome).isEqualTo(new BatchDeletion.Deleted(1, 2));
        assertThat(rowsOf(first)).isZero();
        assertThat(rowsOf(second)).as("the other batch is untouched").isEqualTo(secondRows);
        assertThat(inspect.count("select count(*) from artifact_blob")).as("its own blob goes").isEqualTo(1);
        assertThat(inspect.count("select count(*) from artifact_blob where sha256 = '" + Artifacts.sha256(SHARED) + "'"))
                .as("the blob the other batch still uses stays").isEqualTo(1);
        assertThat(new Artifacts(dataSource).list(second, null, null, 10)).hasSize(1);
        assertThat(successes()).as("totals no longer count its job").isEqualTo(successesBefore - 1);
        new JobCounts(dataSource).compact(); // its count deltas went with it: folding the others still works
        assertThat(successes()).isEqualTo(successesBefore - 1);
        List<JsonNode> ledger = lines(exports.ledgerAfter(ExportFilter.ALL, 0, 10));
        assertThat(ledger).extracting(l -> l.get("batch_id").asText())
                .as("the ledger keeps its lines, naming the deleted batch")
                .containsExactlyInAnyOrder(first.toString(), second.toString());
        assertThat(new BatchDeletion(dataSource).delete(first)).isEqualTo(new BatchDeletion.NotFound());
    }

    @Test
    void anExportResumedAcrossADeletionSkipsAndRepeatsNothing() {
        List<UUID> batches = new java.util.ArrayList<>();
        for (int i = 0; i < 3; i++) {
            NewBatch b = batch(BatchMode.PARALLEL).ollamaJobs(2, 1).build();
            intake.insertBatch(b);
            succeed(claimOllama(2));
            batches.add(b.id());
        }
        exports.numberNewLines();
        List<JsonNode> firstPage = lines(exports.ledgerAfter(ExportFilter.ALL, 0, 3));
        assertThat(firstPage).hasSize(3);
        long resumeAfter = firstPage.get(2).get("seq").asLong();

        // a reader paused mid-way while the batch it was reading is deleted, and a new batch finishes
        assertThat(new BatchDeletion(dataSource).delete(batches.get(1))).isInstanceOf(BatchDeletion.Deleted.class);
        intake.insertBatch(batch(BatchMode.PARALLEL).ollamaJobs(1, 1).build());
        succeed(claimOllama(1));
        exports.numberNewLines();

        List<JsonNode> rest = lines(exports.ledgerAfter(ExportFilter.ALL, resumeAfter, 100));
        List<Long> seqs = new java.util.ArrayList<>();
        firstPage.forEach(l -> seqs.add(l.get("seq").asLong()));
        rest.forEach(l -> seqs.add(l.get("seq").asLong()));
        assertThat(seqs).as("every line once, in order").hasSize(7).doesNotHaveDuplicates().isSorted();
        assertThat(rest).extracting(l -> l.get("batch_id").asText()).as("the deleted batch's lines are still read")
                .contains(batches.get(1).toString());
    }

    @Test
    void blobsLeftBehindAreCollectedAndUsedOnesStay() {
        finishedBatchWithOutputs(SHARED);
        inspect.execute("insert into artifact_blob (sha256, size, data) values (?, ?, ?)", Artifacts.sha256(OWN),
                (long) OWN.length, OWN); // as if a collection after a deletion had failed

        assertThat(new BatchDeletion(dataSource).collectOrphanBlobs(100)).isEqualTo(1);

        assertThat(inspect.count("select count(*) from artifact_blob")).isEqualTo(1);
        assertThat(inspect.count("select count(*) from artifact_blob where sha256 = '" + Artifacts.sha256(SHARED) + "'"))
                .isEqualTo(1);
        assertThat(new BatchDeletion(dataSource).collectOrphanBlobs(100)).isZero();
    }

    @Test
    void aBatchWithJobsNotEndedIsRefusedNamingThemAndNothingChanges() {
        NewBatch b = batch(BatchMode.PARALLEL).ollamaJobs(3, 1).build();
        intake.insertBatch(b);
        List<ClaimedJob> running = claimOllama(1);
        long before = rowsOf(b.id());

        BatchDeletion.Outcome outcome = new BatchDeletion(dataSource).delete(b.id());

        assertThat(outcome).isInstanceOf(BatchDeletion.StillOpen.class);
        BatchDeletion.StillOpen open = (BatchDeletion.StillOpen) outcome;
        assertThat(open.open()).isEqualTo(3);
        assertThat(open.keys()).containsExactlyElementsOf(b.jobs().stream().map(NewBatch.NewJob::key).toList());
        assertThat(rowsOf(b.id())).isEqualTo(before);

        // once every job has ended, it can go
        succeed(running);
        failForGood(claimOllama(2));
        assertThat(new BatchDeletion(dataSource).delete(b.id())).isEqualTo(new BatchDeletion.Deleted(3, 0));
        assertThat(new BatchDeletion(dataSource).delete(UUID.randomUUID())).isEqualTo(new BatchDeletion.NotFound());
    }

    /** A finished one-workflow batch, settled as finished (finished_at) that long ago. */
    private UUID finishedAgo(Duration ago, Batches batch, byte[]... outputs) {
        UUID id = finishedBatchWithOutputs(batch, outputs);
        new JobCounts(dataSource).compact(); // settles it: finished_at
        inspect.execute("update batch set finished_at = now() - make_interval(secs => ?) where id = ?",
                (double) ago.toSeconds(), id);
        return id;
    }

    @Test
    void retentionDeletesOldFinishedBatchesButNotKeptOrOpenOnesAndSharedBlobsLastAsLongAsTheirUsers() {
        Duration ninetyDays = Duration.ofDays(90);
        UUID old = finishedAgo(Duration.ofDays(120), batch(BatchMode.PARALLEL), SHARED, OWN);
        UUID older = finishedAgo(Duration.ofDays(400), batch(BatchMode.PARALLEL));
        UUID kept = finishedAgo(Duration.ofDays(400), batch(BatchMode.PARALLEL).labels("{\"keep\": \"true\"}"));
        UUID recent = finishedAgo(Duration.ofDays(10), batch(BatchMode.PARALLEL), SHARED);
        NewBatch open = batch(BatchMode.PARALLEL).ollamaJobs(1, 1).build();
        intake.insertBatch(open);
        BatchDeletion deletion = new BatchDeletion(dataSource);

        assertThat(deletion.deleteExpired(ninetyDays, 100, null)).isEqualTo(2);

        for (UUID gone : List.of(old, older)) {
            assertThat(rowsOf(gone)).isZero();
        }
        for (UUID stays : List.of(kept, recent, open.id())) {
            assertThat(rowsOf(stays)).as("batch %s", stays).isPositive();
        }
        assertThat(inspect.count("select count(*) from artifact_blob where sha256 = '" + Artifacts.sha256(SHARED) + "'"))
                .as("the recent batch still uses it").isEqualTo(1);
        assertThat(inspect.count("select count(*) from artifact_blob where sha256 = '" + Artifacts.sha256(OWN) + "'"))
                .isZero();
        assertThat(deletion.deleteExpired(ninetyDays, 100, null)).as("nothing more").isZero();

        // a hundred days on (a fixed clock), the recent one is old too, and its blob goes with it
        assertThat(deletion.deleteExpired(ninetyDays, 100, Instant.now().plus(Duration.ofDays(100)))).isEqualTo(1);
        assertThat(rowsOf(recent)).isZero();
        assertThat(inspect.count("select count(*) from artifact_blob")).isZero();
        assertThat(rowsOf(kept)).as("keep=true stays whatever its age").isPositive();
        assertThat(rowsOf(open.id())).isPositive();
    }

    @Test
    void retentionRunsOnOneExecutorAtATimeAndAtMostAsManyAsAsked() throws Exception {
        for (int i = 0; i < 3; i++) {
            finishedAgo(Duration.ofDays(200), batch(BatchMode.PARALLEL));
        }
        BatchDeletion deletion = new BatchDeletion(dataSource);
        try (java.sql.Connection other = dataSource.getConnection()) {
            other.setAutoCommit(false);
            try (var lock = other.prepareStatement("select pg_advisory_xact_lock(hashtext('atelier.retention.batches'))")) {
                lock.execute();
            }
            assertThat(deletion.deleteExpired(Duration.ofDays(90), 100, null)).as("another executor is at it").isZero();
            other.rollback();
        }
        assertThat(deletion.deleteExpired(Duration.ofDays(90), 2, null)).isEqualTo(2);
        assertThat(deletion.deleteExpired(Duration.ofDays(90), 2, null)).isEqualTo(1);
    }

    @Test
    void retentionTrimsTheOldStartOfEachExportLogAndAReaderBehindItIsToldNotSkipped() {
        for (int i = 0; i < 3; i++) {
            intake.insertBatch(batch(BatchMode.PARALLEL).ollamaJobs(2, 1).build());
            succeed(claimOllama(2));
        }
        exports.numberNewLines();
        List<JsonNode> all = lines(exports.ledgerAfter(ExportFilter.ALL, 0, 100));
        assertThat(all).hasSize(6);
        long fourth = all.get(3).get("seq").asLong();
        // the first three lines (and their events) are a year old; a younger one among them stops the trim there
        inspect.execute("update ledger_line set occurred_at = now() - interval '400 days' where seq < ?", fourth);
        inspect.execute("update event_line set occurred_at = now() - interval '400 days' where seq is not null");
        inspect.execute("update ledger_line set occurred_at = now() - interval '400 days' where seq = ?",
                all.get(4).get("seq").asLong());
        intake.insertBatch(batch(BatchMode.PARALLEL).ollamaJobs(1, 1).build());
        succeed(claimOllama(1)); // not yet numbered: never trimmed

        long removed = exports.trimOlderThan(Duration.ofDays(365), null);

        assertThat(removed).as("3 ledger lines and the 6 event lines").isEqualTo(9);
        assertThat(exports.trimmedThrough(ExportLog.Log.LEDGER)).isEqualTo(fourth - 1);
        assertThat(lines(exports.ledgerAfter(ExportFilter.ALL, fourth - 1, 100)))
                .extracting(l -> l.get("seq").asLong()).as("the rest, and the line numbered since")
                .startsWith(fourth, all.get(4).get("seq").asLong(), all.get(5).get("seq").asLong()).hasSize(4);
        ExportLog.Trimmed behind = org.junit.jupiter.api.Assertions.assertThrows(ExportLog.Trimmed.class,
                () -> exports.ledgerAfter(ExportFilter.ALL, 1, 100));
        assertThat(behind.throughSeq()).isEqualTo(fourth - 1);
        assertThat(behind.getMessage()).contains("resume with after_seq=" + (fourth - 1));
        assertThat(exports.trimOlderThan(Duration.ofDays(365), null)).as("nothing more is old enough").isZero();
    }

    @Test
    void anIdempotencyKeyOutlivesItsBatchForItsDay() {
        NewBatch original = batch(BatchMode.PARALLEL).idempotency("ci", "nightly-42", "hash-a").ollamaJobs(1, 1).build();
        assertThat(intake.insertBatch(original).created()).isTrue();
        failForGood(claimOllama(1));
        assertThat(new BatchDeletion(dataSource).delete(original.id())).isInstanceOf(BatchDeletion.Deleted.class);

        JobIntake.Intake repeat = intake.insertBatch(
                batch(BatchMode.PARALLEL).idempotency("ci", "nightly-42", "hash-a").ollamaJobs(1, 1).build());
        assertThat(repeat.created()).as("the key is not free again").isFalse();
        assertThat(repeat.batchId()).isEqualTo(original.id());
        assertThat(repeat.batchGone()).isTrue();
        assertThat(inspect.count("select count(*) from batch")).isZero();

        BatchDeletion deletion = new BatchDeletion(dataSource);
        assertThat(deletion.forgetIdempotencyKeys(Duration.ofHours(24), Instant.now().plus(Duration.ofHours(23))))
                .isZero();
        assertThat(deletion.forgetIdempotencyKeys(Duration.ofHours(24), Instant.now().plus(Duration.ofHours(25))))
                .isEqualTo(1);
        assertThat(intake.insertBatch(batch(BatchMode.PARALLEL).idempotency("ci", "nightly-42", "hash-a")
                .ollamaJobs(1, 1).build()).created()).as("a day later the key is free").isTrue();
    }
}
