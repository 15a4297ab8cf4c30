package dev.atelier.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "run", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Run one crew task as a one-job batch.",
        footer = {"", "Examples:",
                "  atelier run --crew mk1 --task Scorpion --check --wait",
                "  atelier run --crew code --task \"Create HealthUI.cs\" --retries 5 --retry-delay 10"})
public class RunCommand extends SubmittingCommand {

    @Option(names = "--crew", required = true, paramLabel = "CREW", description = "The crew (atelier crews list).")
    String crew;

    @Option(names = "--task", required = true, paramLabel = "TASK", description = "What {task} becomes in the crew's template.")
    String task;

    @Option(names = "--check", description = "First check that the crew's backend is online (and, for Ollama, offers "
            + "its model); refuse to submit otherwise, with exit code 1.")
    boolean check;

    @Override
    public Integer call() {
        if (check) {
            String refusal = refusal();
            if (refusal != null) {
                console.err().println(style().red("not submitted: ") + refusal);
                return CliException.NOT_ALL_WELL;
            }
        }
        ObjectNode task = mapper.createObjectNode();
        task.putArray("jobs").addObject().put("crew", crew).put("task", this.task);
        ObjectNode body = BatchBody.of(task, "the task"); // names the job's key after its task
        batch.applyTo(body, crew + ": " + this.task);
        return submit(body.put("mode", "priority"));
    }

    /** Why this task could not run now, or null when a live backend of its kind is there (and offers its model). */
    private String refusal() {
        JsonNode template = api().get(Api.Service.GATEWAY, "/api/v1/crews/" + Api.segment(crew)).path("template");
        String type = template.path("type").asText();
        String kind = type.startsWith("comfyui") ? "comfyui" : "ollama";
        JsonNode summary = api().get(Api.Service.LEDGER, "/api/v1/summary");
        String status = summary.path("services").path(kind).asText("offline");
        if ("offline".equals(status)) {
            List<String> seen = new ArrayList<>();
            summary.path("backends").forEach(b -> {
                if (kind.equals(b.path("kind").asText())) {
                    seen.add(b.path("name").asText() + " " + b.path("status").asText()
                            + (b.hasNonNull("detail") ? " (" + b.path("detail").asText() + ")" : ""));
                }
            });
            return "crew " + crew + " needs " + kind + ", and no " + kind + " backend is online"
                    + (seen.isEmpty() ? " (no live executor serves one)" : ": " + String.join("; ", seen));
        }
        String model = template.path("model").asText("");
        if ("ollama".equals(kind) && !model.isEmpty()) {
            List<String> offered = new ArrayList<>();
            for (JsonNode backend : summary.path("backends")) {
                if ("ollama".equals(backend.path("kind").asText()) && !"offline".equals(backend.path("status").asText())) {
                    backend.path("models").forEach(m -> offered.add(m.asText()));
                }
            }
            if (offered.stream().noneMatch(m -> sameModel(m, model))) {
                return "crew " + crew + " uses model " + model + ", which no online Ollama offers (offered: "
                        + (offered.isEmpty() ? "none" : String.join(", ", offered)) + ")";
            }
        }
        if ("degraded".equals(status)) {
            console.warn(kind + " is degraded (slow health checks); submitting anyway");
        }
        return null;
    }

    /**
     * Ollama's own comparison (case-insensitive; {@code registry.ollama.ai/library/} and {@code :latest} implied), as
     * the executors claim: {@code Llama3.2} and {@code library/llama3.2:latest} are the same model.
     */
    static boolean sameModel(String a, String b) {
        return normal(a).equals(normal(b));
    }

    private static String normal(String model) {
        String m = model.toLowerCase(Locale.ROOT);
        m = m.startsWith("registry.ollama.ai/") ? m.substring("registry.ollama.ai/".length()) : m;
        m = m.startsWith("library/") ? m.substring("library/".length()) : m;
        return m.substring(m.lastIndexOf('/') + 1).contains(":") ? m : m + ":latest";
    }
}
