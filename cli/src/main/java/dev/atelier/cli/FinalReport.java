package dev.atelier.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.net.URI;
import java.util.List;
import java.util.Locale;

/**
 * The end of a watch, as the old batch runner printed it: a tick or cross per task, the failed tasks with their
 * errors, and where the results are.
 */
final class FinalReport {

    static final int MAX_TASK_LINES = 200;
    static final int MAX_FAILURES = 20;
    private final Console console;
    private final URI ledger;

    FinalReport(Console console, URI ledger) {
        this.console = console;
        this.ledger = ledger;
    }

    void print(JsonNode batch, List<JsonNode> jobs) {
        PrintWriter out = console.out();
        Style style = console.style();
        String id = batch.path("id").asText();
        ProgressView.Counts counts = ProgressView.Counts.of(batch.path("status_counts"));
        boolean success = "success".equals(batch.path("state").asText());
        out.println();
        out.println((success ? style.green("✓ ") : style.red("✗ ")) + style.bold(batch.path("name").asText()) + " "
                + batch.path("state").asText() + ": " + counts.success() + " of " + counts.total() + " succeeded"
                + (counts.failed() > 0 ? ", " + counts.failed() + " failed" : "")
                + (counts.cancelled() > 0 ? ", " + counts.cancelled() + " cancelled" : "")
                + " in " + Durations.clock(batch.path("elapsed_sec").asDouble(0)));
        int keyWidth = Math.min(30, jobs.stream().mapToInt(j -> j.path("key").asText().length()).max().orElse(4));
        int whatWidth = Math.min(36, jobs.stream().mapToInt(j -> what(j).length()).max().orElse(4));
        int listed = 0;
        for (JsonNode job : jobs) {
            boolean ok = "success".equals(job.path("state").asText());
            if (listed == MAX_TASK_LINES) {
                out.println(style.dim("  … and " + (jobs.size() - listed) + " more: atelier jobs " + id));
                break;
            }
            listed++;
            String line = String.format(Locale.ROOT, "%s %-" + keyWidth + "s  %-" + whatWidth + "s  %s",
                    ok ? style.green("✓") : style.red("✗"), ProgressView.shorten(job.path("key").asText(), keyWidth),
                    ProgressView.shorten(what(job), whatWidth), outcome(job));
            out.println("  " + ProgressView.shorten(line.stripTrailing(), console.width() - 2 + colourSlack(line)));
        }
        List<JsonNode> failed = jobs.stream().filter(j -> !"success".equals(j.path("state").asText())).toList();
        if (!failed.isEmpty()) {
            out.println();
            boolean onlyFailures = failed.stream().allMatch(j -> "failed".equals(j.path("state").asText()));
            out.println(style.red(onlyFailures ? "Failed tasks" : "Failed or cancelled tasks") + " (" + failed.size() + "):");
            failed.stream().limit(MAX_FAILURES).forEach(job -> {
                out.println("  " + style.red("✗ ") + job.path("key").asText() + " (" + what(job) + ", "
                        + job.path("attempt").asInt() + " attempt(s)) — job " + job.path("id").asText());
                out.println("      " + reason(job));
            });
            if (failed.size() > MAX_FAILURES) {
                out.println(style.dim("  … and " + (failed.size() - MAX_FAILURES) + " more: atelier jobs " + id
                        + " --state failed,cancelled"));
            }
        }
        out.println();
        out.println("Results: atelier jobs " + id + "   (one job: atelier job JOB_ID)");
        out.println("         atelier export ledger --batch " + id + " -o ledger.jsonl");
        out.println("         " + ledger + "/api/v1/exports/ledger.jsonl?batch=" + id + "   dashboard: " + ledger + "/");
        out.flush();
    }

    /** {@code mk1 · Scorpion} for a crew job, else its type and model. */
    static String what(JsonNode job) {
        if (job.hasNonNull("crew") && job.hasNonNull("task")) {
            return job.path("crew").asText() + " · " + job.path("task").asText();
        }
        return job.path("type").asText() + (job.hasNonNull("model") ? " " + job.path("model").asText() : "");
    }

    private static String outcome(JsonNode job) {
        String elapsed = job.hasNonNull("elapsed_sec") ? Durations.shortly(job.path("elapsed_sec").asDouble()) + "  " : "";
        return switch (job.path("state").asText()) {
            case "success" -> elapsed + ProgressView.shorten(oneLine(job.path("result_preview").asText("")), 60);
            case "cancelled" -> "cancelled";
            default -> oneLine(reason(job));
        };
    }

    private static String reason(JsonNode job) {
        if ("cancelled".equals(job.path("state").asText())) {
            return "cancelled";
        }
        return job.hasNonNull("error") ? job.path("error").asText() : job.path("state").asText();
    }

    private static String oneLine(String text) {
        return text.replaceAll("\\s+", " ").strip();
    }

    /** Characters of ANSI codes in a line, which take no columns. */
    private static int colourSlack(String line) {
        return line.length() - line.replaceAll("\u001b\\[[0-9;]*m", "").length();
    }
}
