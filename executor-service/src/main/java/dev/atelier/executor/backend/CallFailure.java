package dev.atelier.executor.backend;

/**
 * What went wrong with a backend call, as the runner saw it. Runners only report; {@code AttemptTable} (one place)
 * decides from the subclass what becomes of the job, DESIGN.md's attempt table.
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

    /**
     * The backend refused the request for something only this box lacks (a ComfyUI checkpoint or LoRA file, a custom
     * node class): another executor may run it. Handed back and kept off this executor.
     */
    public static final class NotHere extends CallFailure {
        public NotHere(String message) {
            super(message, null);
        }
    }

    /**
     * The backend does not have the job's model (404): refresh the model list and hand the job back, counted toward
     * the cap (Ollama answers 404 for a model whose blob is missing while {@code /api/tags} still lists it).
     */
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

    /**
     * Fetching this job's own inputs or outputs failed (a ComfyUI {@code /view} that times out or breaks off, an
     * upload that does): the backend answers, but not for this job. Handed back and counted toward the cap, while
     * the backend passes its health check.
     */
    public static final class JobFiles extends CallFailure {
        public JobFiles(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /**
     * The runner stopped: the call was stopped through its {@code CallControl}, or the runner found the lease no
     * longer its own. {@code note} says what was left behind (a ComfyUI run left running for the next attempt).
     */
    public static final class Stopped extends CallFailure {
        public Stopped(String note) {
            super(note, null);
        }
    }

    /**
     * The backend cannot load the job's model on this box now (REALITY.md, Ollama 6: a 500 "model requires more
     * system memory (X) than is available (Y)", "unable to load full model on GPU", out of memory), which repeats on
     * every try here. Handed back; this executor stops claiming the model for a while, so a bigger box can take it.
     */
    public static final class Capacity extends CallFailure {
        public Capacity(String message) {
            super(message, null);
        }
    }

    /** A job-caused error (500, an error in the stream, a timeout): the attempt is spent, with backoff. */
    public static final class Failed extends CallFailure {
        public Failed(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
