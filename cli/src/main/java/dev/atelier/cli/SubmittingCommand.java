package dev.atelier.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import picocli.CommandLine.Mixin;

/** Sends a batch body to the gateway, says what was stored, and with {@code --wait} watches it to the end. */
abstract class SubmittingCommand extends ApiCommand {

    @Mixin
    BatchOptions batch;

    int submit(ObjectNode body) {
        Api.Answer answer = api().post(Api.Service.GATEWAY, "/api/v1/batches", body, batch.headers());
        JsonNode stored = answer.body();
        String id = stored.path("id").asText();
        if (batch.json) {
            printJson(stored);
        } else if (batch.quiet) {
            out().println(id);
        } else {
            out().println((answer.status() == 200 ? "already submitted (same idempotency key): " : "submitted ")
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
}
