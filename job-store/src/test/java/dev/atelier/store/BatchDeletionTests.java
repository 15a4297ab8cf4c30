package dev.atelier.store;

import static dev.atelier.store.testing.Batches.batch;
import static dev.atelier.store.testing.ExportLines.lines;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atelier.store.Artifacts.NewArtifact;
import dev.atelier.store.ExportLog.ExportFilter;
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
        NewBatch b = batch(BatchMode.PARALLEL).jobs(1, 1, "comfyui.workflow", null).build();
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
