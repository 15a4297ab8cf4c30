package dev.atelier.executor.service;

import dev.atelier.executor.backend.BackendState;
import dev.atelier.executor.config.BackendsConfig;
import dev.atelier.executor.config.ExecutorConfig;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.net.InetAddress;
import java.net.UnknownHostException;
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
        this(executor.id().orElseGet(Backends::hostNameWithSuffix),
                Map.of("ollama", config.ollama().slots(), "comfyui", config.comfyui().slots()),
                Map.of("ollama", config.ollama().url(), "comfyui", config.comfyui().url()));
    }

    /** An executor's backends by hand (tests, a fleet bench): its name, slots and backend URLs per kind. */
    public Backends(String executorId, Map<String, Integer> slots, Map<String, String> urls) {
        this.executorId = executorId;
        for (String kind : new String[] {"ollama", "comfyui"}) {
            this.slots.put(kind, slots.getOrDefault(kind, 0));
            states.put(kind, new BackendState(kind, urls.getOrDefault(kind, "")));
        }
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
