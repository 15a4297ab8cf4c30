package dev.atelier.cli;

import com.fasterxml.jackson.databind.JsonNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "watch", mixinStandardHelpOptions = true,
        description = {"Follow a batch until it ends: on a terminal, progress bars for the batch and each priority "
                + "group with counts, elapsed time and an ETA; when piped, a line each time something changes.",
                "It ends with a tick or cross per task, the failed tasks with their errors, and where the results are.",
                "Exit code 0 when every job succeeded, 1 when any failed or was cancelled, 2 for usage or connection "
                        + "errors. Stopping the watch does not stop the batch."},
        footer = {"", "Examples:", "  atelier watch 0190f5b2-8c1e-7a3d-9f10-5b2c4d6e8f01",
                "  atelier watch          (the newest batch)",
                "  atelier watch $BATCH > progress.log || echo 'some jobs failed'"})
public class WatchCommand extends ApiCommand {

    @Parameters(index = "0", arity = "0..1", paramLabel = "BATCH", description = "A batch id (default: the newest batch).")
    String batchId;

    @Option(names = "--interval", paramLabel = "D", defaultValue = "1s",
            description = "How often to ask the ledger (default ${DEFAULT-VALUE}).")
    String interval;

    @Override
    public Integer call() {
        Watcher watcher = new Watcher(api(), console, Durations.parse("--interval", interval));
        if (batchId != null) {
            return watcher.watch(batchId);
        }
        JsonNode newest = api().get(Api.Service.LEDGER, Api.path("/api/v1/batches", "limit", 1)).path("items").path(0);
        if (newest.isMissingNode()) {
            throw new CliException("there are no batches yet: atelier submit FILE");
        }
        console.err().println("watching the newest batch, " + newest.path("name").asText() + " ("
                + newest.path("id").asText() + ")");
        console.err().flush();
        return watcher.watch(newest.path("id").asText());
    }
}
