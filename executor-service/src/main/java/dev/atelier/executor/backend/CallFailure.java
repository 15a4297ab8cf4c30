package dev.atelier.executor.backend;

/**
 * Why a backend call did not succeed, sorted by DESIGN.md's attempt table. The subclass decides whether the attempt
 * is spent and whether the circuit breaker counts it.
 */
public abstract class CallFailure extends RuntimeException {

    protected CallFailure(String message, Throwable cause) {
        super(message, cause, false, false);
    }

    /** Refused, reset before an answer, no route, or busy (503): the backend's fault. Hand back, spend nothing. */
    public static final class Unavailable extends CallFailure {
        private final boolean busy;

        public Unavailable(String message, boolean busy, Throwable cause) {
            super(message, cause);
            this.busy = busy;
        }

        /** The backend answered 503 (its queue is full) rather than not answering at all. */
        public boolean busy() {
            return busy;
        }
    }

    /** The backend refused the request itself (400): retrying cannot help, the job fails at once. */
    public static final class Rejected extends CallFailure {
        public Rejected(String message) {
            super(message, null);
        }
    }

    /** The backend does not have the job's model (404): refresh the model list and hand the job back. */
    public static final class ModelMissing extends CallFailure {
        public ModelMissing(String message) {
            super(message, null);
        }
    }

    /**
     * The connection broke after the answer had started. Whose fault depends on what follows: if the backend is
     * unreachable right after, it went away (a restart) and the job is handed back; if it still answers, the attempt
     * is spent like a {@link Failed} one.
     */
    public static final class Broken extends CallFailure {
        public Broken(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** A job-caused error (500, an error in the stream, a timeout): the attempt is spent, with backoff. */
    public static final class Failed extends CallFailure {
        public Failed(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
