package dev.atelier.executor.service;

import dev.atelier.executor.backend.BackendState;
import dev.atelier.executor.backend.CallFailure;
import dev.atelier.store.AttemptOutcome;
import dev.atelier.store.ClaimedJob;
import dev.atelier.executor.config.BackendsConfig;
import dev.atelier.executor.config.ExecutorConfig;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;

/** This executor's name, its backends' slots and state, and who runs each kind of job. */
@ApplicationScoped
public class Backends {

    private final String executorId;
    private final Map<String, Integer> slots = new LinkedHashMap<>();
    private final Map<String, BackendState> states = new LinkedHashMap<>();

    @Inject
    public Backends(BackendsConfig config, ExecutorConfig executor) {
        this.executorId = executor.id().orElseGet(Backends::hostNameWithSuffix);
        slots.put("ollama", config.ollama().slots());
        slots.put("comfyui", config.comfyui().slots());
        states.put("ollama", new BackendState("ollama", config.ollama().url()));
        states.put("comfyui", new BackendState("comfyui", config.comfyui().url()));
    }

    public String executorId() {
        return executorId;
    }

    /** Slots per kind, as configured; a kind with 0 slots is not served. */
    public Map<String, Integer> slots() {
        return slots;
    }

    public BackendState state(String kind) {
        return states.get(kind);
    }

    /**
     * A call found the backend unreachable or busy (DESIGN.md, attempt table): mark it offline, or pause claiming for
     * it when busy, and hand the job back without spending an attempt.
     */
    public AttemptOutcome.HandBack handBack(String kind, ClaimedJob job, CallFailure.Unavailable failure,
                                            Duration busyPause) {
        Instant now = Instant.now();
        BackendState backend = state(kind);
        if (failure.busy()) {
            backend.pause(now, now.plus(busyPause), failure.getMessage());
        } else {
            backend.unreachable(now, failure.getMessage());
        }
        return new AttemptOutcome.HandBack(job.id(), job.leaseToken(), kind + " " + (failure.busy() ? "busy" : "offline")
                + " on " + executorId + ": " + failure.getMessage());
    }

    private static String hostNameWithSuffix() {
        String host;
        try {
            host = InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            host = System.getenv().getOrDefault("HOSTNAME", "executor");
        }
        return host + "-" + UUID.randomUUID().toString().substring(0, 4);
    }
}
