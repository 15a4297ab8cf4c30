package dev.atelier.executor.config;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.time.Duration;
import java.util.Optional;

/** What an executor serves and how it holds its jobs (API.md, configuration). */
@ConfigMapping(prefix = "atelier")
public interface ExecutorConfig {

    Backends backends();

    Executor executor();

    interface Backends {
        /** The Ollama this executor serves. */
        Backend ollama();

        /** The ComfyUI this executor serves. */
        Backend comfyui();
    }

    interface Backend {
        /** Base URL of the backend. */
        String url();

        /** Concurrent jobs of this kind the executor runs; 0 turns the backend off. */
        @WithDefault("1")
        int slots();
    }

    interface Executor {
        /** The executor's name in attempts and the ledger; host name plus a random suffix when unset. */
        Optional<String> id();

        /** Lease length; heartbeats renew it. */
        @WithDefault("PT30S")
        Duration lease();
    }
}
