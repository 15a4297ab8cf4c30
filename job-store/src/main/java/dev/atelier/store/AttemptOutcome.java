package dev.atelier.store;

import java.util.Locale;
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

    /** Back to pending, no attempt spent; {@code effect} says what else the store does. */
    record HandBack(UUID jobId, UUID leaseToken, String reason, Effect effect) implements AttemptOutcome {

        /** What a hand-back does besides sending the job back. */
        public enum Effect {
            /** Nothing: an outage, a busy backend, a shutdown, a model that does not fit are nobody's fault. */
            NONE,
            /**
             * Adds to the job's run of hand-backs, which the executor caps: a reason of the job's own (a model the
             * backend lists but cannot find, an I/O error on the job's files). Any spent attempt ends the run.
             */
            COUNT,
            /** Keeps the job off the executor that held it: that box lacks what it needs (a checkpoint, a node). */
            AVOID_EXECUTOR;

            /** As HAND_BACK in AttemptOutcomes names it. */
            public String wire() {
                return name().toLowerCase(Locale.ROOT);
            }
        }

        /** A hand-back with no effect but the hand-back. */
        public HandBack(UUID jobId, UUID leaseToken, String reason) {
            this(jobId, leaseToken, reason, Effect.NONE);
        }
    }
}
