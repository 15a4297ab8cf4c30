package dev.atelier.executor.comfyui;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atelier.executor.backend.BackendProbe;
import dev.atelier.executor.config.BackendsConfig;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.List;

/**
 * ComfyUI's health: {@code GET /system_stats} answering is online (contracts 8), with its VRAM in the detail; the
 * checkpoint names it can load are its models, for display (claiming does not filter on them).
 */
@ApplicationScoped
public class ComfyProbe implements BackendProbe {

    @Inject
    ComfyClient client;

    @Inject
    BackendsConfig config;

    private volatile String lastDetail = "";

    @Override
    public String kind() {
        return "comfyui";
    }

    @Override
    public List<String> look() {
        JsonNode stats = client.systemStats(config.comfyui().healthTimeout());
        lastDetail = vram(stats);
        return client.checkpoints(config.comfyui().healthTimeout());
    }

    @Override
    public String detail() {
        return lastDetail;
    }

    /** e.g. "VRAM 23.2 GiB free of 23.6 GiB on cuda:0 NVIDIA GeForce RTX 4090, ComfyUI 0.3.64". */
    static String vram(JsonNode stats) {
        JsonNode device = stats.path("devices").path(0);
        String version = stats.path("system").path("comfyui_version").asText("");
        String suffix = version.isBlank() ? "" : ", ComfyUI " + version;
        if (device.isMissingNode()) {
            return "no device reported" + suffix;
        }
        return String.format("VRAM %.1f GiB free of %.1f GiB on %s%s", gib(device.path("vram_free")),
                gib(device.path("vram_total")), device.path("name").asText("?").split(" : ")[0], suffix);
    }

    private static double gib(JsonNode bytes) {
        return bytes.asDouble() / (1L << 30);
    }
}
