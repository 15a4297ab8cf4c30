package dev.atelier.executor.config;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.time.Duration;
import java.util.Optional;

/**
 * How an executor holds its jobs (API.md, configuration). Mapped under {@code atelier.executor} only, so settings
 * meant for other services ({@code atelier.auth.*}) in a shared ConfigMap do not stop the executor.
 */
@ConfigMapping(prefix = "atelier.executor")
public interface ExecutorConfig {

    /** The executor's name in attempts and the ledger; host name plus a random suffix when unset. */
    Optional<String> id();

    /** Lease length; heartbeats renew it. */
    @WithDefault("PT30S")
    Duration lease();
}
