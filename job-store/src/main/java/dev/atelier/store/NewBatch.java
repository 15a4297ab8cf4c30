package dev.atelier.store;

import java.time.Duration;
import java.util.List;
import java.util.UUID;

/**
 * A validated batch, ready to store. The gateway validates; the schema's constraints back it up.
 *
 * @param labelsJson     a JSON object
 * @param idempotencyKey null unless the client sent one; then scoped by {@code submittedBy}
 * @param requestHash    a digest of the request body, compared when the same key comes again
 */
public record NewBatch(UUID id, String name, BatchMode mode, int priority, String labelsJson,
                       int maxAttempts, Duration retryDelay, double retryBackoff,
                       String submittedBy, String idempotencyKey, String requestHash,
                       List<NewJob> jobs) {

    /**
     * One job of a batch. {@code specJson} is the concrete backend call (a crew job is expanded before this), with
     * templates of its upstreams' outputs if it has any (PipelineTemplates).
     *
     * @param maxAttempts null for the batch's
     * @param after       the keys of the jobs of this batch it waits for (pipelines); the gateway has checked them
     */
    public record NewJob(UUID id, String key, int priority, String type, String model,
                         String crew, String task, String specJson, Duration timeout, Integer maxAttempts,
                         List<String> after) {

        public NewJob {
            after = after == null ? List.of() : List.copyOf(new java.util.LinkedHashSet<>(after));
        }

        /** A job that waits for no other. */
        public NewJob(UUID id, String key, int priority, String type, String model, String crew, String task,
                      String specJson, Duration timeout, Integer maxAttempts) {
            this(id, key, priority, type, model, crew, task, specJson, timeout, maxAttempts, List.of());
        }

        /** The backend kind is the type's prefix: {@code ollama.chat} runs on {@code ollama}. */
        public String kind() {
            return type.substring(0, type.indexOf('.'));
        }
    }
}
