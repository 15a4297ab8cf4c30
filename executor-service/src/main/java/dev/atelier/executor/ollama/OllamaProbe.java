package dev.atelier.executor.ollama;

import dev.atelier.executor.backend.BackendProbe;
import dev.atelier.executor.config.BackendsConfig;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.List;

/** Ollama's health: {@code GET /api/version}, then {@code GET /api/tags} for the models (contracts 1 and 2). */
@ApplicationScoped
public class OllamaProbe implements BackendProbe {

    @Inject
    OllamaClient client;

    @Inject
    BackendsConfig config;

    @Override
    public String kind() {
        return "ollama";
    }

    @Override
    public List<String> look() {
        client.version(config.ollama().healthTimeout());
        return client.models(config.ollama().healthTimeout());
    }
}
