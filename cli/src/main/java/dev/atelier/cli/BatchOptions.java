package dev.atelier.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine.Option;

/** The options {@code submit} and {@code run} share: the batch's name, urgency, retries and labels, and waiting. */
public class BatchOptions {

    @Option(names = "--name", paramLabel = "NAME", description = "The batch's name (default: the file's name).")
    String name;

    @Option(names = "--priority", paramLabel = "P",
            description = "The batch's urgency against other batches, 0..1000; lower goes first (default 1).")
    Integer priority;

    @Option(names = "--retries", paramLabel = "N",
            description = "Retries after a failed attempt, 0..19 (--retries 5 allows 6 attempts; default 2).")
    Integer retries;

    @Option(names = "--retry-delay", paramLabel = "D",
            description = "Wait before the first retry: 10 or 10s, 2m, PT10S (default 5s); later ones back off.")
    String retryDelay;

    @Option(names = "--backoff", paramLabel = "F", description = "Multiplier for each later retry's wait, 1.0..10.0.")
    Double backoff;

    @Option(names = "--label", paramLabel = "KEY=VALUE", description = "A label (repeat for more), e.g. project=mk1.")
    Map<String, String> labels = new LinkedHashMap<>();

    @Option(names = "--idempotency-key", paramLabel = "KEY",
            description = "Submitting again with the same key and body gives the same batch, not a second one "
                    + "(without it, each submit makes its own key, used for its retries).")
    String idempotencyKey;

    @Option(names = "--wait", description = "Watch the batch until it ends; the exit code says how it went.")
    boolean waitForEnd;

    @Option(names = {"-q", "--quiet"}, description = "Print only the batch id (BATCH=$(atelier submit -q ...)).")
    boolean quiet;

    @Option(names = "--json", description = "Print the submitted batch as JSON.")
    boolean json;

    /** Writes the options into the body, over what the file says. */
    void applyTo(ObjectNode body, String defaultName) {
        if (name != null) {
            body.put("name", name);
        } else if (!body.hasNonNull("name")) {
            body.put("name", defaultName);
        }
        if (priority != null) {
            body.put("priority", priority);
        }
        if (retries != null || retryDelay != null || backoff != null) {
            ObjectNode retry = body.has("retry") && body.get("retry").isObject()
                    ? (ObjectNode) body.get("retry") : body.putObject("retry");
            if (retries != null) {
                if (retries < 0 || retries > 19) {
                    throw new CliException("--retries must be 0..19 (attempts are retries + 1, at most 20)");
                }
                retry.put("max_attempts", retries + 1);
            }
            if (retryDelay != null) {
                Duration delay = Durations.parse("--retry-delay", retryDelay);
                retry.put("delay", delay.toString());
            }
            if (backoff != null) {
                retry.put("backoff", backoff);
            }
        }
        if (!labels.isEmpty()) {
            ObjectNode merged = body.has("labels") && body.get("labels").isObject()
                    ? (ObjectNode) body.get("labels") : body.putObject("labels");
            labels.forEach(merged::put);
        }
    }
}
