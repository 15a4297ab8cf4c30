package dev.atelier.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "check", mixinStandardHelpOptions = true,
        description = {"Are the gateway and the ledger ready, and which backends and executors are live: each "
                + "backend online, degraded (slow health checks) or offline, with its models and those loaded now.",
                "Exits 1 when a backend kind has no online backend, 2 when a service cannot be reached."},
        footer = {"", "Examples:", "  atelier check", "  atelier check --kind ollama && atelier submit roster.yaml"})
public class CheckCommand extends ApiCommand {

    @Option(names = "--kind", split = ",", paramLabel = "KIND",
            description = "The backend kinds that must be online: ollama, comfyui (default both).")
    List<String> kinds = List.of("ollama", "comfyui");

    @Option(names = "--json", description = "Print the ledger's summary as JSON (the exit code still says how it went).")
    boolean json;

    @Override
    public Integer call() {
        for (String kind : kinds) {
            if (!kind.equals("ollama") && !kind.equals("comfyui")) {
                throw new CliException("--kind must be ollama or comfyui, not '" + kind + "'");
            }
        }
        boolean gatewayReady = api().ready(Api.Service.GATEWAY);
        JsonNode summary = api().get(Api.Service.LEDGER, "/api/v1/summary");
        List<String> missing = new ArrayList<>();
        for (String kind : kinds) {
            if (!"online".equals(summary.path("services").path(kind).asText())) {
                missing.add(kind);
            }
        }
        if (json) {
            printJson(summary);
        } else {
            print(summary, gatewayReady);
        }
        if (!gatewayReady) {
            console.err().println(style().red("not ready: ") + "the gateway at " + api().base(Api.Service.GATEWAY)
                    + " answers but is not ready (its database?)");
            return CliException.USAGE;
        }
        if (!missing.isEmpty()) {
            console.err().println(style().red("not ready: ") + "no online " + String.join(" or ", missing) + " backend");
            return CliException.NOT_ALL_WELL;
        }
        return CliException.OK;
    }

    private void print(JsonNode summary, boolean gatewayReady) {
        Instant now = Instant.now();
        out().println("gateway " + api().base(Api.Service.GATEWAY) + "  " + (gatewayReady ? style().green("ready")
                : style().red("not ready")) + "   ledger " + api().base(Api.Service.LEDGER) + "  " + style().green("ready"));
        out().println();
        Table backends = new Table("KIND", "BACKEND", "STATUS", "MODELS", "LOADED", "CHECKED", "DETAIL");
        for (JsonNode b : summary.path("backends")) {
            List<String> models = new ArrayList<>();
            b.path("models").forEach(m -> models.add(m.asText()));
            List<String> loaded = new ArrayList<>();
            b.path("loaded").forEach(m -> loaded.add(m.path("name").asText() + (m.path("size_vram").asLong() > 0
                    ? String.format(Locale.ROOT, " (%.1f GiB)", m.path("size_vram").asLong() / (double) (1L << 30)) : "")));
            backends.row(b.path("kind").asText(), b.path("name").asText(), b.path("status").asText(),
                    models.isEmpty() ? null : String.join(", ", models),
                    loaded.isEmpty() ? null : String.join(", ", loaded),
                    b.hasNonNull("checked_at") ? Durations.ago(Instant.parse(b.path("checked_at").asText()), now) : null,
                    b.path("detail").asText(null));
        }
        out().println(style().bold("Backends"));
        if (backends.isEmpty()) {
            out().println("  none: no live executor (start one, or check its logs)");
        } else {
            backends.print(out(), console.width(), "  ");
        }
        out().println();
        Table executors = new Table("EXECUTOR", "LAST SEEN", "OLLAMA BUSY", "COMFYUI BUSY");
        for (JsonNode e : summary.path("executors")) {
            executors.row(e.path("id").asText(), Durations.ago(Instant.parse(e.path("last_seen").asText()), now),
                    e.path("busy").path("ollama").asInt() + "/" + e.path("slots").path("ollama").asInt(),
                    e.path("busy").path("comfyui").asInt() + "/" + e.path("slots").path("comfyui").asInt());
        }
        out().println(style().bold("Executors"));
        if (executors.isEmpty()) {
            out().println("  none live");
        } else {
            executors.print(out(), console.width(), "  ");
        }
        out().println();
        StringBuilder services = new StringBuilder("Services:");
        summary.path("services").fields().forEachRemaining(e ->
                services.append(' ').append(e.getKey()).append(' ').append(style().state(e.getValue().asText())));
        out().println(services);
        out().flush();
    }
}
