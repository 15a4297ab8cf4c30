package dev.atelier.executor.service;

import dev.atelier.store.AttemptOutcome;
import java.util.UUID;

/** How an attempt ended on this executor, ready for the completer. */
public sealed interface Finished {

    /** A success, a failure or a hand-back, fenced by its lease token when stored. */
    record Outcome(AttemptOutcome outcome) implements Finished {
    }

    /** Stopped because the user cancelled: the attempt closes as cancelled. */
    record Cancelled(UUID leaseToken) implements Finished {
    }

    /** Stopped because the lease is no longer ours: nothing to report. */
    record Abandoned() implements Finished {
    }
}
