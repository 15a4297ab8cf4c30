package dev.atelier.store;

import java.time.Duration;
import java.time.Instant;
import java.util.UUID;

/**
 * A job an executor now holds: it must finish, fail or hand back with {@code leaseToken}.
 *
 * @param backendRef     the backend's id for a run an earlier attempt started (ComfyUI's prompt_id), or null
 * @param handBacksInRow the counted hand-backs since the job last spent an attempt ({@link AttemptOutcome.HandBack})
 */
public record ClaimedJob(UUID id, UUID batchId, String key, int priority, String kind, String type,
                         String model, String crew, String task, String specJson, Duration timeout,
                         int attempt, UUID leaseToken, Instant leaseExpiresAt, String backendRef,
                         int handBacksInRow) {
}
