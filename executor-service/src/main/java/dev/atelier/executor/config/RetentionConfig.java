package dev.atelier.executor.config;

import io.smallrye.config.ConfigMapping;
import java.time.Duration;
import java.util.Optional;

/**
 * How long finished work is kept (README, "Keeping data"). Executors carry it out in their maintenance; unset keeps
 * everything until someone deletes it.
 */
@ConfigMapping(prefix = "atelier.retention")
public interface RetentionConfig {

    /**
     * Batches that finished longer ago than this are deleted (as {@code DELETE /api/v1/batches/{id}} would), except
     * those labelled {@code keep=true}. {@code P90D}, say; at least a day.
     */
    Optional<Duration> batches();

    /**
     * Export lines older than this are removed from the start of each log ({@code P365D}, say; at least a day). A
     * reader resuming before them gets a 410 that says where the log now starts.
     */
    Optional<Duration> exportLines();
}
