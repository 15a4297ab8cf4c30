package dev.atelier.executor.comfyui;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atelier.executor.backend.BackendProbe;
import dev.atelier.executor.backend.CallFailure;
import dev.atelier.executor.config.BackendsConfig;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.List;

/**
 * ComfyUI's health: {@code GET /system_stats} answering is online (contracts 8), with its VRAM and version in the
 * detail; the checkpoint names it can load are its models. The version decides what Atelier may do there (REALITY.md,
 * ComfyUI 1-2): before 0.3.45 ComfyUI ignores the prompt_id Atelier chooses, so a run could be neither followed nor
 * adopted after a crash, and the backend is unusable (offline, saying why).
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
        ComfyVersion version = ComfyVersion.parse(stats.path("system").path("comfyui_version").asText(null));
        client.version(version);
        if (!version.honoursPromptIds()) {
            throw new CallFailure.Unavailable("ComfyUI " + version.text() + " is too old: before 0.3.45 it ignores the"
                    + " prompt_id Atelier chooses, so runs could not be followed or adopted; upgrade it", false, null);
        }
        lastDetail = vram(stats) + (version.interruptsOneRun() ? ""
                : "; before 0.3.57: runs are never interrupted (it would stop anybody's), only taken out of the queue");
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
