package dev.atelier.executor.service;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atelier.store.ClaimedJob;

/**
 * Runs claimed jobs of one backend kind. A runner only reports what happened: the job's result, or a
 * {@link dev.atelier.executor.backend.CallFailure} saying what went wrong. {@link AttemptTable} decides what that
 * means for the job.
 */
public interface JobRunner {

    /** The backend kind whose jobs this runs ({@code ollama}, {@code comfyui}). */
    String kind();

    /**
     * Runs one attempt to its end, stopping early when {@code control} says so.
     *
     * @return the job's result object
     * @throws Exception what went wrong: a {@code CallFailure} for what the backend did, anything else is a failure
     *                   of the executor
     */
    ObjectNode run(ClaimedJob job, CallControl control) throws Exception;
}
