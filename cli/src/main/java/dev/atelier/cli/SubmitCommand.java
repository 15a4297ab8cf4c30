package dev.atelier.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Set;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "submit", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Submit a batch from a file: an API batch body ({\"name\": ..., \"jobs\": [...]}) or a plain "
                + "list of tasks ([{\"crew\": \"mk1\", \"task\": \"Scorpion\", \"priority\": 1}, ...]), in JSON or "
                + "YAML. Options override what the file says."},
        footer = {"", "Examples:",
                "  atelier submit roster.yaml --wait",
                "  atelier submit roster.json --no-parallel --retries 5 --retry-delay 10",
                "  generate-tasks | atelier submit - --name nightly -q"})
public class SubmitCommand extends SubmittingCommand {

    private static final Set<String> MODES = Set.of("priority", "parallel", "sequential");

    @Parameters(index = "0", paramLabel = "FILE", description = "The batch or task list; - reads standard input.")
    String file;

    @Option(names = "--mode", paramLabel = "MODE", description = "priority (a priority group waits for the one "
            + "before it; the default), parallel, or sequential (one job at a time).")
    String mode;

    @Option(names = "--no-parallel", description = "Priority order, one job at a time (the same as --mode sequential).")
    boolean noParallel;

    @Override
    public Integer call() {
        if (mode != null && noParallel) {
            throw new CliException("give --mode or --no-parallel, not both");
        }
        if (mode != null && !MODES.contains(mode)) {
            throw new CliException("--mode must be priority, parallel or sequential, not '" + mode + "'");
        }
        String source = "-".equals(file) ? "standard input" : file;
        ObjectNode body = BatchBody.of(InputFiles.read(file, System.in), source);
        batch.applyTo(body, "-".equals(file) ? "stdin" : InputFiles.stem(file));
        if (noParallel) {
            body.put("mode", "sequential");
        } else if (mode != null) {
            body.put("mode", mode);
        }
        return submit(body);
    }
}
