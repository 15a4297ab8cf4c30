package dev.atelier.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Draws a batch as the ledger answers it ({@code GET /api/v1/batches/{id}}): on a terminal a header and bars, one
 * for the batch and one per priority group, with counts, elapsed time and an ETA; when piped, one plain line.
 */
public final class ProgressView {

    static final int MAX_GROUP_LINES = 8;
    static final int MAX_CHAIN_LINES = 6;
    private final Style style;
    private final int width;

    public ProgressView(Style style, int width) {
        this.style = style;
        this.width = width;
    }

    /** Counts of one batch or group, from its {@code status_counts}. */
    record Counts(long pending, long running, long retry, long success, long failed, long cancelled) {
        static Counts of(JsonNode counts) {
            return new Counts(counts.path("pending").asLong(), counts.path("running").asLong(),
                    counts.path("retry").asLong(), counts.path("success").asLong(), counts.path("failed").asLong(),
                    counts.path("cancelled").asLong());
        }

        long total() {
            return pending + running + retry + success + failed + cancelled;
        }

        long done() {
            return success + failed + cancelled;
        }

        boolean finished() {
            return done() == total();
        }
    }

    /** The terminal frame: a header, the batch's bar, and a bar per priority group when there are several. */
    public List<String> frame(JsonNode batch) {
        Counts all = Counts.of(batch.path("status_counts"));
        double elapsed = batch.path("elapsed_sec").asDouble(0);
        List<String> lines = new ArrayList<>();
        lines.add(style.bold(shorten(batch.path("name").asText(), 40)) + " · " + style.state(batch.path("state").asText())
                + " · " + batch.path("mode").asText() + " mode · " + Durations.clock(elapsed) + " elapsed"
                + eta(all.total() - all.done(), all, elapsed));
        lines.add(barLine("batch", all, all, elapsed, all.total() - all.done(), true));
        JsonNode groups = batch.path("groups");
        if (groups.size() > 1) {
            boolean ordered = !"parallel".equals(batch.path("mode").asText());
            long remainingSoFar = 0;
            int shown = 0;
            int finishedHidden = 0;
            for (JsonNode group : groups) {
                Counts counts = Counts.of(group.path("status_counts"));
                remainingSoFar += counts.total() - counts.done();
                boolean hide = groups.size() > MAX_GROUP_LINES && counts.finished();
                if (hide || shown == MAX_GROUP_LINES) {
                    finishedHidden += hide ? 1 : 0;
                    continue;
                }
                shown++;
                lines.add(barLine("group " + group.path("priority").asInt(), counts, all, elapsed, remainingSoFar, ordered));
            }
            int waitingHidden = groups.size() - shown - finishedHidden;
            if (finishedHidden + waitingHidden > 0) {
                lines.add(style.dim("  (" + finishedHidden + " finished and " + waitingHidden + " later groups not shown)"));
            }
        }
        lines.addAll(chains(batch));
        return lines;
    }

    /**
     * The batch's pipelines, one line each: {@code bio ✓ → portrait ▶}; unfinished chains first, at most
     * {@link #MAX_CHAIN_LINES}.
     */
    List<String> chains(JsonNode batch) {
        java.util.Map<String, String> states = new java.util.HashMap<>();
        batch.path("jobs").forEach(job -> states.put(job.path("key").asText(), job.path("state").asText()));
        List<String> open = new ArrayList<>(), finished = new ArrayList<>();
        for (JsonNode chain : batch.path("chains")) {
            List<String> steps = new ArrayList<>();
            boolean done = true;
            for (JsonNode key : chain) {
                String state = states.getOrDefault(key.asText(), "pending");
                done &= List.of("success", "failed", "cancelled").contains(state);
                steps.add(shorten(key.asText(), 24) + " " + mark(state));
            }
            (done ? finished : open).add("  " + String.join(style.dim(" → "), steps));
        }
        List<String> lines = new ArrayList<>(open);
        lines.addAll(finished);
        if (lines.size() > MAX_CHAIN_LINES) {
            int hidden = lines.size() - MAX_CHAIN_LINES;
            lines = new ArrayList<>(lines.subList(0, MAX_CHAIN_LINES));
            lines.add(style.dim("  (" + hidden + " more chains not shown)"));
        }
        return lines;
    }

    /** A job's state as a mark: ✓ success, ✗ failed, ⊘ cancelled, ▶ running, ↻ retry, · waiting. */
    String mark(String state) {
        return switch (state) {
            case "success" -> style.green("✓");
            case "failed" -> style.red("✗");
            case "cancelled" -> style.dim("⊘");
            case "running" -> style.yellow("▶");
            case "retry" -> style.yellow("↻");
            default -> style.dim("·");
        };
    }

    /** The piped form: {@code 0:42 mk1-roster running 5/12 (✓4 ✗1 ▶2) · group 2 3/8 · eta 1:10}. */
    public String line(JsonNode batch) {
        Counts all = Counts.of(batch.path("status_counts"));
        double elapsed = batch.path("elapsed_sec").asDouble(0);
        StringBuilder line = new StringBuilder()
                .append(Durations.clock(elapsed)).append(' ').append(batch.path("name").asText()).append(' ')
                .append(batch.path("state").asText()).append(' ').append(all.done()).append('/').append(all.total())
                .append(" (").append(all.done() + all.running() + all.retry() == 0 ? "waiting" : tally(all)).append(')');
        if (!"parallel".equals(batch.path("mode").asText()) && batch.path("groups").size() > 1) {
            for (JsonNode group : batch.path("groups")) {
                Counts counts = Counts.of(group.path("status_counts"));
                if (!counts.finished()) {
                    line.append(" · group ").append(group.path("priority").asInt()).append(' ')
                            .append(counts.done()).append('/').append(counts.total());
                    break;
                }
            }
        }
        return line.append(eta(all.total() - all.done(), all, elapsed)).toString();
    }

    /** What changed since the last plain line (counts and state, not the clock). */
    public static String signature(JsonNode batch) {
        return batch.path("state").asText() + batch.path("status_counts") + batch.path("groups");
    }

    private String barLine(String label, Counts counts, Counts all, double elapsed, long remainingThroughHere,
                           boolean withEta) {
        int barWidth = Math.max(10, Math.min(40, width - 48));
        String text = String.format(Locale.ROOT, "  %-9s %s %s", label, bar(counts, barWidth),
                counts.done() + "/" + counts.total());
        String status;
        if (counts.finished()) {
            status = counts.total() == counts.success() ? style.green("done") : "done";
        } else if (counts.running() + counts.retry() + counts.done() == 0) {
            status = style.dim("waiting");
        } else {
            status = "";
        }
        String tally = tally(counts);
        String eta = withEta && !counts.finished() && counts.done() + counts.running() > 0
                ? eta(remainingThroughHere, all, elapsed) : "";
        return text + "  " + String.join(" ", tally.isEmpty() ? List.of(status) : List.of(tally, status)).strip() + eta;
    }

    /** A bar of {@code cells} cells: success █ green, failed or cancelled ▓ red, running ▒ yellow, the rest ░. */
    String bar(Counts counts, int cells) {
        long total = Math.max(1, counts.total());
        int ok = cells(counts.success(), total, cells);
        int bad = cells(counts.success() + counts.failed() + counts.cancelled(), total, cells) - ok;
        int busy = cells(counts.done() + counts.running() + counts.retry(), total, cells) - ok - bad;
        int rest = cells - ok - bad - busy;
        return style.green("█".repeat(ok)) + style.red("▓".repeat(bad)) + style.yellow("▒".repeat(busy))
                + style.dim("░".repeat(rest));
    }

    private static int cells(long upTo, long total, int cells) {
        return (int) Math.round((double) upTo * cells / total);
    }

    /** {@code ✓4 ✗1 ▶2 ↻1}: successes, failures and cancellations, running, waiting to retry; zeros left out. */
    String tally(Counts c) {
        List<String> parts = new ArrayList<>();
        if (c.success() > 0) {
            parts.add(style.green("✓" + c.success()));
        }
        if (c.failed() > 0) {
            parts.add(style.red("✗" + c.failed()));
        }
        if (c.cancelled() > 0) {
            parts.add(style.dim("⊘" + c.cancelled()));
        }
        if (c.running() > 0) {
            parts.add(style.yellow("▶" + c.running()));
        }
        if (c.retry() > 0) {
            parts.add(style.yellow("↻" + c.retry()));
        }
        return String.join(" ", parts);
    }

    /**
     * {@code  · eta 1:10}: the jobs left (through this group, since a group waits for the ones before it) at the
     * batch's pace so far; {@code --:--} before the first job ends.
     */
    static String eta(long remaining, Counts all, double elapsedSec) {
        if (remaining <= 0) {
            return "";
        }
        if (all.done() == 0 || elapsedSec <= 0) {
            return " · eta --:--";
        }
        return " · eta " + Durations.clock(remaining * elapsedSec / all.done());
    }

    static String shorten(String text, int max) {
        return text.length() <= max ? text : text.substring(0, max - 1) + "…";
    }
}
