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

    /**
     * Back to pending, no attempt spent. {@code counted} hand-backs are for a reason of the job's own (a model the
     * backend lists but cannot find, an I/O error on this job's files) and add to the job's run of hand-backs, which
     * the executor caps; an outage, a busy backend or a shutdown is nobody's fault and is not counted. Any spent
     * attempt ends the run.
     */
    record HandBack(UUID jobId, UUID leaseToken, String reason, boolean counted) implements AttemptOutcome {
        /** A hand-back that does not count toward the cap. */
        public HandBack(UUID jobId, UUID leaseToken, String reason) {
            this(jobId, leaseToken, reason, false);
        }
    }
}
