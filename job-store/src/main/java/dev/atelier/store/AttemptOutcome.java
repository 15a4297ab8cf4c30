package dev.atelier.store;

import java.util.UUID;

/** What an executor reports for an attempt it holds. Every outcome is fenced by the attempt's lease token. */
public sealed interface AttemptOutcome {
    UUID jobId();

    UUID leaseToken();

    /** The backend answered with success. {@code resultJson} is the job's result object. */
    record Success(UUID jobId, UUID leaseToken, String resultJson) implements AttemptOutcome {
    }

    /**
     * The backend answered with a job-caused error. A retryable one goes to {@code retry} while the budget lasts;
     * a non-retryable one (400, validation) fails at once. Either way the attempt is spent.
     */
    record Failure(UUID jobId, UUID leaseToken, String error, boolean retryable) implements AttemptOutcome {
    }

    /** The backend was unreachable or busy, or the executor is stopping: back to pending, no attempt spent. */
    record HandBack(UUID jobId, UUID leaseToken, String reason) implements AttemptOutcome {
    }
}
