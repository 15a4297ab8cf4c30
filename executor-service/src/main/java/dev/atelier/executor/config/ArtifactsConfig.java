package dev.atelier.executor.config;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

/**
 * Limits on the files a job produces (ComfyUI outputs). Downloads stream to a temporary file while they are counted
 * and hashed, so these bound the disk and the database, not the heap; a job over either fails with a message naming
 * the setting.
 */
@ConfigMapping(prefix = "atelier.artifacts")
public interface ArtifactsConfig {

    /** The largest single file a job may store, in bytes (64 MiB). */
    @WithDefault("67108864")
    long maxBytes();

    /** The most a job may store across its files, in bytes (256 MiB). */
    @WithDefault("268435456")
    long maxJobBytes();
}
