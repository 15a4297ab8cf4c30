package dev.atelier.executor.service;

import dev.atelier.store.ClaimedJob;

/** Runs claimed jobs of one backend kind. */
public interface JobRunner {

    /** The backend kind whose jobs this runs ({@code ollama}, {@code comfyui}). */
    String kind();

    /**
     * Runs one attempt to its end: success, a failure sorted by DESIGN.md's attempt table, or a stop through
     * {@code control}. Never throws.
     */
    Finished run(ClaimedJob job, CallControl control);
}
