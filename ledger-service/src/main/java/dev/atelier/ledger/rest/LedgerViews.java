package dev.atelier.ledger.rest;

import com.fasterxml.jackson.databind.JsonNode;
import io.quarkus.runtime.annotations.RegisterForReflection;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * The ledger's JSON shapes (API.md, ledger). Field names are snake_case on the wire. Every one is registered for
 * reflection, so that a native build can write them. The export lines are rendered by PostgreSQL
 * (V14__self_contained_export_lines.sql); their records here are the shape those lines have, which the tests read
 * them back into.
 */
@RegisterForReflection(targets = {LedgerViews.Summary.class, LedgerViews.BackendView.class, LedgerViews.LoadedView.class,
        LedgerViews.ExecutorView.class, LedgerViews.BatchItem.class, LedgerViews.GroupView.class,
        LedgerViews.JobItem.class, LedgerViews.Job.class, LedgerViews.AttemptView.class, LedgerViews.ArtifactView.class,
        LedgerViews.LedgerLine.class, LedgerViews.LedgerMetadata.class, LedgerViews.EventLine.class,
        LedgerViews.EventTask.class, LedgerViews.UpstreamView.class})
final class LedgerViews {

    private LedgerViews() {
    }

    /** GET /api/v1/summary; the field names are the old orchestrator's, which dashboards read. */
    record Summary(long totalTasks, Map<String, Long> statusCounts, Map<String, String> services,
                   List<BackendView> backends, List<ExecutorView> executors, Instant lastUpdated) {
    }

    /** @param loaded the models in the backend's memory now (Ollama's /api/ps), at its last health check */
    record BackendView(String name, String kind, String url, String status, List<String> models, Instant checkedAt,
                       String detail, List<LoadedView> loaded) {
    }

    /** A model loaded in a backend's memory: the VRAM it takes, and when keep_alive lets it go (null if unknown). */
    record LoadedView(String name, long sizeVram, Instant expiresAt) {
    }

    /**
     * A live executor. {@code draining} from its preStop hook on: it claims nothing more and finishes or hands back
     * what it holds ({@code draining_since} says since when; null while it claims).
     */
    record ExecutorView(String id, Instant startedAt, Instant lastSeen, Map<String, Integer> slots,
                        Map<String, Integer> busy, boolean draining, Instant drainingSince) {
    }

    /** A batch in GET /api/v1/batches: as one batch, without its job list and timings. */
    record BatchItem(UUID id, String name, String mode, int priority, String state, JsonNode labels,
                     String submittedBy, Instant createdAt, long totalTasks, Map<String, Long> statusCounts,
                     double progress, List<GroupView> groups) {
    }

    record GroupView(int priority, Map<String, Long> statusCounts) {
    }

    /** A job in GET /api/v1/jobs: without its spec, result and attempts (GET /api/v1/jobs/{id} has them). */
    record JobItem(UUID id, UUID batchId, String key, String type, String model, String crew, String task,
                   int priority, String state, int attempt, int maxAttempts, String executor, Instant createdAt,
                   Instant startedAt, Instant finishedAt, Double elapsedSec, String waitingReason, String error,
                   Double progress, String resultPreview, List<String> after) {
    }

    /** GET /api/v1/jobs/{id}. */
    record Job(UUID id, UUID batchId, String key, String type, String model, String crew, String task, int priority,
               String state, JsonNode spec, String waitingReason, List<AttemptView> attempts, JsonNode result,
               String error, Double progress, int attemptsUsed, int maxAttempts, String executor, Instant createdAt,
               Instant startedAt, Instant finishedAt, Double elapsedSec, Instant runAfter, List<String> after,
               List<UpstreamView> upstreams) {
    }

    /** A job this one waits for (pipelines), and its state now. */
    record UpstreamView(String key, UUID jobId, String state) {
    }

    record AttemptView(int attempt, String executor, Instant startedAt, Instant finishedAt, Double elapsedSec,
                       String status, String error) {
    }

    record ArtifactView(UUID id, UUID jobId, UUID batchId, String jobKey, String name, String contentType, long size,
                        String sha256, Instant createdAt, String url) {
    }

    /** A line of ledger.jsonl. */
    record LedgerLine(long seq, UUID jobId, UUID batchId, String crew, String task, String status, String details,
                      Instant timestamp, LedgerMetadata metadata) {
    }

    record LedgerMetadata(int attempts, String key, int priority, String model, String type) {
    }

    /** A line of events.jsonl; a hand-back has no attempt number. */
    record EventLine(long seq, Instant timestamp, EventTask task, String status, double elapsedSec,
                     String resultPreview, Integer attempt, String executor, UUID jobId, UUID batchId) {
    }

    record EventTask(String crew, String task, int priority) {
    }
}
