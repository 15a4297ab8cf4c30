package dev.atelier.ledger;

import dev.atelier.store.AttemptOutcome;
import dev.atelier.store.AttemptOutcomes;
import dev.atelier.store.ClaimedJob;
import dev.atelier.store.ExecutorRegistry.BackendReport;
import dev.atelier.store.ExecutorRegistry;
import dev.atelier.store.JobClaims;
import dev.atelier.store.JobIntake;
import dev.atelier.store.NewBatch;
import dev.atelier.store.testing.Batches;
import dev.atelier.store.testing.Inspect;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import javax.sql.DataSource;

/**
 * Puts rows in the ledger's database the way the gateway and the executors do: through the job-store's own
 * operations, so the ledger reads what production writes.
 */
@ApplicationScoped
public class LedgerData {

    public static final Duration LEASE = Duration.ofSeconds(30);
    public static final String MODEL = Batches.MODEL;

    @Inject
    DataSource dataSource;

    @Inject
    JobIntake intake;

    @Inject
    JobClaims claims;

    @Inject
    AttemptOutcomes outcomes;

    @Inject
    ExecutorRegistry registry;

    public Inspect inspect() {
        return new Inspect(dataSource);
    }

    public NewBatch store(Batches batch) {
        NewBatch built = batch.build();
        intake.insertBatch(built);
        return built;
    }

    /** Claims up to {@code slots} Ollama jobs as {@code executor}. Only the given batch is claimable if others are done. */
    public List<ClaimedJob> claim(String executor, int slots) {
        return claims.claim(executor, Map.of("ollama", slots), List.of(MODEL), LEASE, null);
    }

    public List<ClaimedJob> claimComfy(String executor, int slots) {
        return claims.claim(executor, Map.of("comfyui", slots), List.of(), LEASE, null);
    }

    public void succeed(ClaimedJob job, String text) {
        outcomes.finish(List.of(new AttemptOutcome.Success(job.id(), job.leaseToken(),
                "{\"text\": \"" + text + "\", \"done_reason\": \"stop\", \"model\": \"" + MODEL + "\"}")), null);
    }

    /** Ends the job's attempt with this result, as an executor stores it (thinking, artifacts, ...). */
    public void succeedWith(ClaimedJob job, String resultJson) {
        outcomes.finish(List.of(new AttemptOutcome.Success(job.id(), job.leaseToken(), resultJson)), null);
    }

    public void fail(ClaimedJob job, String error, boolean retryable) {
        outcomes.finish(List.of(new AttemptOutcome.Failure(job.id(), job.leaseToken(), error, retryable)), null);
    }

    public void handBack(ClaimedJob job, String reason) {
        outcomes.finish(List.of(new AttemptOutcome.HandBack(job.id(), job.leaseToken(), reason)), null);
    }

    /** Reports an executor as live now, with an Ollama backend in the given status offering the given models. */
    public void executor(String id, int ollamaSlots, int ollamaBusy, String ollamaStatus, List<String> models) {
        executor(id, ollamaSlots, ollamaBusy, ollamaStatus, models, null);
    }

    /** The same, for an executor draining since then (null: claiming). */
    public void executor(String id, int ollamaSlots, int ollamaBusy, String ollamaStatus, List<String> models,
                         Instant drainingSince) {
        registry.report(id, Map.of("ollama", ollamaSlots, "comfyui", 0), Map.of("ollama", ollamaBusy, "comfyui", 0),
                List.of(new BackendReport("ollama", "http://ollama-" + id + ":11434", ollamaStatus, models,
                        Instant.now(), ollamaStatus.equals("offline") ? "connection refused" : "version 0.12.6",
                        models.isEmpty() ? List.of() : List.of(new ExecutorRegistry.LoadedModel(models.get(0),
                                LOADED_VRAM, LOADED_UNTIL)), List.of())),
                drainingSince, null);
    }

    /** What a reported executor's Ollama holds: its first model, with this much VRAM, until then. */
    public static final long LOADED_VRAM = 21_474_836_480L;
    public static final Instant LOADED_UNTIL = Instant.parse("2026-12-04T12:05:00Z");

    public JobClaims claims() {
        return claims;
    }

    public AttemptOutcomes outcomes() {
        return outcomes;
    }

    /** Reports an executor as live now, with a ComfyUI backend online that has these checkpoint files. */
    public void comfyExecutor(String id, List<String> checkpoints) {
        registry.report(id, Map.of("ollama", 0, "comfyui", 1), Map.of("ollama", 0, "comfyui", 0),
                List.of(new BackendReport("comfyui", "http://comfyui-" + id + ":8188", "online", checkpoints,
                        Instant.now(), "VRAM 23.2 GiB free")), null);
    }

    /** An executor that last reported long ago: not live. */
    public void staleExecutor(String id) {
        registry.report(id, Map.of("ollama", 4), Map.of("ollama", 0),
                List.of(new BackendReport("ollama", "http://stale:11434", "online", List.of("stale-model"),
                        Instant.now().minusSeconds(3600), null)), Instant.now().minusSeconds(3600));
    }

    /** Ends every open job left by earlier tests, so that a claim takes only the jobs of the test at hand. */
    public void closeOpenJobs() {
        inspect().execute("update job set state = 'cancelled', finished_at = now(), lease_token = null, "
                + "lease_expires_at = null where state in ('pending', 'running', 'retry')");
    }

    /** Folds the count deltas, which settles the batches whose last job ended (executors' maintenance does this). */
    public void foldCounts() {
        new dev.atelier.store.JobCounts(dataSource).compact();
    }

    public void forgetExecutors() {
        inspect().execute("delete from executor");
    }

    /** Stores an artifact row for a job, as the executor does for a ComfyUI output. */
    public UUID artifact(UUID jobId, String name, String contentType, byte[] data, String sha256) {
        UUID id = UUID.randomUUID();
        inspect().execute("insert into artifact_blob (sha256, size, data) values (?, ?, ?) on conflict do nothing",
                sha256, (long) data.length, data);
        inspect().execute("insert into artifact (id, job_id, attempt, name, content_type, size, sha256) "
                + "values (?, ?, 1, ?, ?, ?, ?)", id, jobId, name, contentType, (long) data.length, sha256);
        return id;
    }
}
