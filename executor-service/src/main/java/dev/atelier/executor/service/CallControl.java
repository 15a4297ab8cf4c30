package dev.atelier.executor.service;

import java.util.concurrent.CompletableFuture;

/**
 * The handle on one running attempt: whoever holds it can stop the backend call (a cancel request, a lost lease,
 * shutdown), and the runner learns why it stopped.
 */
public final class CallControl {

    /** Why a call was stopped; the reason decides what is reported. */
    public enum StopReason {
        /** The user asked to cancel: the job ends cancelled. */
        CANCEL,
        /** The executor is shutting down: the job goes back to pending, no attempt spent. */
        SHUTDOWN,
        /** The lease is no longer ours: report nothing, the outcome would be fenced off anyway. */
        LEASE_LOST
    }

    private volatile StopReason stopped;
    private volatile CompletableFuture<?> call;

    /** The call now in progress; stopping aborts it. */
    public synchronized void attach(CompletableFuture<?> inProgress) {
        call = inProgress;
        if (stopped != null) {
            inProgress.cancel(true);
        }
    }

    public synchronized void stop(StopReason reason) {
        if (stopped == null) {
            stopped = reason;
        }
        if (call != null) {
            call.cancel(true);
        }
    }

    /** Null while the attempt may go on. */
    public StopReason stopped() {
        return stopped;
    }
}
