package dev.atelier.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.UUID;
import picocli.CommandLine.Mixin;

/** Sends a batch body to the gateway, says what was stored, and with {@code --wait} watches it to the end. */
abstract class SubmittingCommand extends ApiCommand {

    /** How long a submit keeps trying while the gateway is unavailable (503), busy (429), or its answer was lost. */
    static final Duration PATIENCE = Duration.ofSeconds(60);

    @Mixin
    BatchOptions batch;

    int submit(ObjectNode body) {
        Api.Answer answer;
        try (StopOnSignal signals = StopOnSignal.install()) {
            answer = send(body);
        }
        JsonNode stored = answer.body();
        String id = stored.path("id").asText();
        if (batch.json) {
            printJson(stored);
        } else if (batch.quiet) {
            out().println(id);
        } else {
            boolean replayed = answer.status() == 200 && batch.idempotencyKey != null;
            out().println((replayed ? "already submitted (same idempotency key): " : "submitted ")
                    + style().bold(stored.path("name").asText()) + " — " + stored.path("jobs").size() + " job(s), "
                    + stored.path("mode").asText() + " mode");
            out().println("  batch " + id);
            if (!batch.waitForEnd) {
                out().println("  watch it: atelier watch " + id);
            }
        }
        out().flush();
        return batch.waitForEnd ? new Watcher(api(), console, Watcher.DEFAULT_INTERVAL).watch(id) : CliException.OK;
    }

    /**
     * Posts the batch, trying again while the gateway answers 502/503/504 or 429, or when a connection broke after
     * the request may have been sent. Every try carries the same Idempotency-Key (the user's, or one made here), so
     * a try whose answer was lost never stores the batch twice. A refused connection fails at once: that is a wrong
     * URL or a stopped gateway, and waiting would only hide it.
     */
    private Api.Answer send(ObjectNode body) {
        Map<String, String> headers = Map.of("Idempotency-Key",
                batch.idempotencyKey != null ? batch.idempotencyKey : "atelier-cli-" + UUID.randomUUID());
        Instant giveUp = Instant.now().plus(PATIENCE);
        for (int tries = 1; ; tries++) {
            try {
                return api().post(Api.Service.GATEWAY, "/api/v1/batches", body, headers);
            } catch (Api.Unreachable | ApiException e) {
                boolean again = e instanceof Api.Unreachable u && !u.neverSent()
                        || e instanceof ApiException p && (p.isTransient() || p.status() == 429);
                if (!again || Instant.now().isAfter(giveUp)) {
                    throw e;
                }
                long backoff = Math.min(8, 1L << Math.min(tries - 1, 3));
                long seconds = e instanceof ApiException p && p.retryAfterSeconds() > 0
                        ? Math.min(p.retryAfterSeconds(), 10) : backoff;
                console.warn(CliException.firstLine(e.getMessage()) + "; trying again in " + seconds
                        + " s (the same Idempotency-Key, so the batch is stored once)");
                StopOnSignal.sleep(seconds * 1000);
            }
        }
    }
}
