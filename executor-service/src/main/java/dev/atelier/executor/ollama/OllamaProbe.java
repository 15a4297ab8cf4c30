package dev.atelier.executor.ollama;

import dev.atelier.executor.backend.BackendProbe;
import dev.atelier.executor.config.BackendsConfig;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import dev.atelier.store.ExecutorRegistry;
import java.util.List;

/**
 * Ollama's health: {@code GET /api/version}, then {@code GET /api/tags} for the models it has and {@code GET /api/ps}
 * for those loaded now (contracts 1-3).
 */
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

    private volatile List<ExecutorRegistry.LoadedModel> loaded = List.of();

    @Override
    public List<String> look() {
        client.version(config.ollama().healthTimeout());
        List<String> models = client.models(config.ollama().healthTimeout());
        loaded = client.loaded(config.ollama().healthTimeout());
        return models;
    }

    @Override
    public List<ExecutorRegistry.LoadedModel> loaded() {
        return loaded;
    }
}
