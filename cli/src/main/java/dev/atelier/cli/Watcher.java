package dev.atelier.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Follows a batch on the ledger until every job is terminal, drawing its progress, then prints the report.
 * The exit code is 0 when every job succeeded and 1 otherwise. A ledger that is away for a while (a restart, the
 * database failing over) is waited for, up to {@link #GIVE_UP}; then it is a connection error (2).
 */
final class Watcher {

    static final Duration DEFAULT_INTERVAL = Duration.ofSeconds(1);
    static final Duration GIVE_UP = Duration.ofMinutes(5);
    private static final Set<String> TERMINAL = Set.of("success", "failed", "cancelled");
    private static final String CLEAR_LINE = "\u001b[2K";
    private static final String CLEAR_BELOW = "\u001b[J";

    private final Api api;
    private final Console console;
    private final Duration interval;

    Watcher(Api api, Console console, Duration interval) {
        this.api = api;
        this.console = console;
        this.interval = interval;
    }

    int watch(String batchId) {
        try (StopOnSignal signals = StopOnSignal.install()) {
            return follow(batchId);
        } catch (StopOnSignal.Stopped stopped) {
            console.err().println();
            console.err().println("stopped watching; the batch goes on (atelier watch " + batchId + ")");
            console.err().flush();
            return stopped.exitCode();
        }
    }

    private int follow(String batchId) {
        ProgressView view = new ProgressView(console.style(), console.width());
        PrintWriter out = console.out();
        String path = "/api/v1/batches/" + Api.segment(batchId);
        int drawn = 0;
        String printed = null;
        Instant troubleSince = null;
        JsonNode batch;
        while (true) {
            try {
                batch = api.get(Api.Service.LEDGER, path);
                troubleSince = null;
            } catch (Api.Unreachable | ApiException e) {
                if (e instanceof ApiException problem && !problem.isTransient()) {
                    throw problem;
                }
                Instant now = Instant.now();
                if (troubleSince == null) {
                    troubleSince = now;
                    console.warn(CliException.firstLine(e.getMessage()) + "; still trying");
                    drawn = 0; // the warning moved the cursor: draw the next frame below it
                } else if (Duration.between(troubleSince, now).compareTo(GIVE_UP) > 0) {
                    throw new CliException("gave up after " + GIVE_UP.toMinutes() + " minutes: " + e.getMessage());
                }
                pause();
                continue;
            }
            boolean finished = TERMINAL.contains(batch.path("state").asText());
            if (console.terminal()) {
                drawn = redraw(out, drawn, view.frame(batch));
            } else if (!ProgressView.signature(batch).equals(printed)) {
                printed = ProgressView.signature(batch);
                out.println(view.line(batch));
                out.flush();
            }
            if (finished) {
                break;
            }
            pause();
        }
        List<JsonNode> jobs = new ArrayList<>();
        api.all(Api.Service.LEDGER, "/api/v1/jobs", "batch", batchId).forEach(jobs::add); // batch order, with errors
        new FinalReport(console, api.base(Api.Service.LEDGER)).print(batch, jobs);
        return "success".equals(batch.path("state").asText()) ? CliException.OK : CliException.NOT_ALL_WELL;
    }

    /** Moves up over the last frame and draws the new one in its place. */
    private static int redraw(PrintWriter out, int drawn, List<String> frame) {
        StringBuilder text = new StringBuilder();
        if (drawn > 0) {
            text.append("\u001b[").append(drawn).append('F');
        }
        for (String line : frame) {
            text.append(CLEAR_LINE).append(line).append('\n');
        }
        out.print(text.append(CLEAR_BELOW));
        out.flush();
        return frame.size();
    }

    private void pause() {
        StopOnSignal.sleep(interval.toMillis());
    }
}
