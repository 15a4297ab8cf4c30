package dev.atelier.executor.config;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.time.Duration;

/** The backends this executor serves (API.md, configuration). */
@ConfigMapping(prefix = "atelier.backends")
public interface BackendsConfig {

    /** The Ollama this executor serves. */
    Ollama ollama();

    /** The ComfyUI this executor serves. */
    Comfy comfyui();

    /** How often each backend's health is checked ({@code GET /api/version} and {@code /api/tags} for Ollama). */
    @WithDefault("10s")
    String healthInterval();

    interface Backend {
        /** Base URL of the backend. */
        String url();

        /** Concurrent jobs of this kind the executor runs; 0 turns the backend off. */
        @WithDefault("1")
        int slots();

        /** The whole call, for a job stored without a timeout of its own. */
        @WithDefault("PT10M")
        Duration timeout();

        /** A health check slower than this marks the backend degraded. */
        @WithDefault("PT2S")
        Duration slowAfter();

        /** A health check that has not answered after this marks the backend offline. */
        @WithDefault("PT5S")
        Duration healthTimeout();

        /** Connecting longer than this counts as unreachable. */
        @WithDefault("PT5S")
        Duration connectTimeout();

        /** After a busy answer (503) that outlasted the call's retries, claiming for this backend pauses this long. */
        @WithDefault("PT5S")
        Duration busyPause();
    }

    interface Ollama extends Backend {
        /** Ask Ollama for streamed answers (NDJSON). Streaming lets a hang be seen long before the job's timeout. */
        @WithDefault("true")
        boolean stream();

        /**
         * A streamed answer fails when no chunk arrives for this long once its headers came; long healthy generations
         * keep streaming. The wait before the headers (a load, Ollama's own queue) is bounded by the job's timeout.
         */
        @WithDefault("PT2M")
        Duration idleTimeout();

        /**
         * Ollama's {@code OLLAMA_NUM_PARALLEL}, which Ollama does not report: how many requests it answers at once
         * (its default is 1). Slots beyond it wait, silently, in Ollama's own queue; the executor warns at start.
         */
        @WithDefault("1")
        int numParallel();
    }

    interface Comfy extends Backend {
        /** The whole run, for a job stored without a timeout of its own (the gateway stores PT30M by default). */
        @Override
        @WithDefault("PT30M")
        Duration timeout();

        /**
         * How often a run's {@code /history} is read while it runs. Progress and the end come over the websocket;
         * this is the fallback that finishes a run whose socket dropped or that another executor submitted.
         */
        @WithDefault("PT2S")
        Duration pollInterval();

        /**
         * The longest one output file may take to download from {@code /view}. Past it (or if it breaks off) the job
         * is handed back, which counts toward the hand-back cap.
         */
        @WithDefault("PT2M")
        Duration downloadTimeout();

        /**
         * How long {@code POST /prompt} may take to answer: ComfyUI validates on its event loop, which is slow while
         * busy. A slower answer pauses claiming (busy), it does not mark ComfyUI offline.
         */
        @WithDefault("PT60S")
        Duration submitTimeout();

        /**
         * How long a run may wait in ComfyUI's queue (behind artists' work, say) before it starts. The job's
         * {@code timeout} counts from the start. Past this the run is taken out of the queue and the job handed back
         * without spending an attempt.
         */
        @WithDefault("PT30M")
        Duration queueTimeout();
    }
}
