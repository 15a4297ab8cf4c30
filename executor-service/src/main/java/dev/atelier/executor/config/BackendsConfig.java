package dev.atelier.executor.config;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

/** The backends this executor serves (API.md, configuration). */
@ConfigMapping(prefix = "atelier.backends")
public interface BackendsConfig {

    /** The Ollama this executor serves. */
    Backend ollama();

    /** The ComfyUI this executor serves. */
    Backend comfyui();

    interface Backend {
        /** Base URL of the backend. */
        String url();

        /** Concurrent jobs of this kind the executor runs; 0 turns the backend off. */
        @WithDefault("1")
        int slots();
    }
}
