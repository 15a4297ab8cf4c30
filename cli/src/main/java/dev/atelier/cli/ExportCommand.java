package dev.atelier.cli;

import java.io.BufferedOutputStream;
import java.io.BufferedReader;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "export", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Stream the ledger (a line per job that ended) or the events (a line per attempt and hand-back) "
                + "as JSONL, oldest first.",
                "With -o, an export run again continues where the file ends, without skipping or repeating a line; "
                + "--follow keeps asking for new lines (resuming after the last seq) until stopped."},
        footer = {"", "Examples:", "  atelier export ledger -o ledger.jsonl",
                "  atelier export events --batch 0190f5b2-8c1e-7a3d-9f10-5b2c4d6e8f01 | jq -r .status",
                "  atelier export ledger --since 2h --follow -o today.jsonl"})
public class ExportCommand extends ApiCommand {

    @Parameters(index = "0", paramLabel = "ledger|events", description = "Which export.")
    String which;

    @Option(names = {"-o", "--output"}, paramLabel = "FILE", description = "Append to this file (default: standard output).")
    Path output;

    @Option(names = "--follow", description = "When the lines run out, wait for more (Ctrl-C stops).")
    boolean follow;

    @Option(names = "--batch", paramLabel = "BATCH", description = "Only this batch's lines.")
    String batchId;

    @Option(names = "--status", paramLabel = "STATUS", description = "Only lines with this status (e.g. failed).")
    String status;

    @Option(names = "--since", paramLabel = "TIME", description = "Lines from this time: 2026-01-12T02:00:00Z, or 2h ago.")
    String since;

    @Option(names = "--until", paramLabel = "TIME", description = "Lines before this time.")
    String until;

    @Option(names = "--after-seq", paramLabel = "SEQ", description = "Start after this seq (default: where -o's file ends).")
    Long afterSeq;

    @Option(names = "--interval", paramLabel = "D", defaultValue = "2s",
            description = "With --follow, how often to ask for new lines (default ${DEFAULT-VALUE}).")
    String interval;

    @Override
    public Integer call() throws IOException {
        if (!which.equals("ledger") && !which.equals("events")) {
            throw new CliException("export ledger or export events, not '" + which + "'");
        }
        Duration every = Durations.parse("--interval", interval);
        Instant now = Instant.now();
        String from = since == null ? null : Durations.instant("--since", since, now).toString();
        String to = until == null ? null : Durations.instant("--until", until, now).toString();
        long after = afterSeq != null ? afterSeq : output != null ? ExportFile.resume(output, mapper) : 0;
        if (output != null && afterSeq == null && after > 0) {
            console.err().println("continuing " + output + " after seq " + after);
            console.err().flush();
        }
        long written = 0;
        Instant troubleSince = null;
        try (Sink sink = new Sink(output); StopOnSignal signals = StopOnSignal.install()) {
            while (true) {
                String path = Api.path("/api/v1/exports/" + which + ".jsonl", "batch", batchId, "status", status,
                        "since", from, "until", to, "after_seq", after > 0 ? after : null);
                try (InputStream in = api().stream(Api.Service.LEDGER, path);
                     BufferedReader lines = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                    for (String line = lines.readLine(); line != null; line = lines.readLine()) {
                        if (line.isBlank()) {
                            continue;
                        }
                        long seq = ExportFile.seq(line, mapper);
                        if (seq <= after) {
                            continue; // never twice, whatever the server sends
                        }
                        if (!sink.write(line)) {
                            return CliException.OK; // the reader went away (| head)
                        }
                        after = seq;
                        written++;
                    }
                    troubleSince = null;
                } catch (Api.Unreachable | ApiException | IOException e) {
                    StopOnSignal.checkpoint(); // a stop breaks the stream too: that is no outage
                    // 429: this token runs as many exports as the ledger allows; --follow waits for one to end
                    if (e instanceof ApiException problem && !problem.isTransient() && problem.status() != 429) {
                        throw problem;
                    }
                    sink.flush();
                    if (!follow) {
                        throw new CliException("the export stopped after seq " + after + ": " + e.getMessage()
                                + (output != null ? "; run the same command again to continue" : ""));
                    }
                    if (troubleSince == null) {
                        troubleSince = Instant.now();
                        console.warn("the export stopped after seq " + after + " ("
                                + CliException.firstLine(e.getMessage()) + "); still trying");
                    }
                }
                if (!sink.flush() || !follow) {
                    break;
                }
                StopOnSignal.sleep((troubleSince == null ? every : every.multipliedBy(2).plusSeconds(1)).toMillis());
            }
        } catch (StopOnSignal.Stopped stopped) {
            console.err().println("stopped after seq " + after + (output != null ? "; run it again to continue" : ""));
            console.err().flush();
            return stopped.exitCode();
        }
        if (output != null) {
            console.err().println("wrote " + written + " line(s) to " + output + (after > 0 ? " (last seq " + after + ")" : ""));
            console.err().flush();
        }
        return CliException.OK;
    }

    /** The file (appended to) or standard output; a closed pipe ends the export quietly, a full disk loudly. */
    private static final class Sink implements AutoCloseable {
        private final Path file;
        private final OutputStream out;

        Sink(Path file) throws IOException {
            this.file = file;
            // a FileOutputStream, not Files.newOutputStream: a stop interrupts this thread, and an interrupted
            // FileChannel closes itself, losing the lines still in the buffer
            OutputStream raw = file == null ? new FileOutputStream(FileDescriptor.out)
                    : new FileOutputStream(file.toFile(), true);
            this.out = new BufferedOutputStream(raw, 1 << 16);
        }

        boolean write(String line) {
            try {
                out.write(line.getBytes(StandardCharsets.UTF_8));
                out.write('\n');
                return true;
            } catch (IOException e) {
                return failed(e);
            }
        }

        boolean flush() {
            try {
                out.flush();
                return true;
            } catch (IOException e) {
                return failed(e);
            }
        }

        private boolean failed(IOException e) {
            if (file == null) {
                return false;
            }
            throw new CliException("cannot write " + file + ": " + e.getMessage());
        }

        @Override
        public void close() {
            try {
                out.close();
            } catch (IOException ignored) {
                // a closed pipe: nothing more to say
            }
        }
    }
}
