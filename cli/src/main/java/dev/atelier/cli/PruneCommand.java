package dev.atelier.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "prune", mixinStandardHelpOptions = true,
        description = "Delete the batches that finished longer ago than --older-than, as `atelier delete` would, "
                + "except those labelled keep=true. Only batches this token may delete (its own; an admin token: "
                + "anyone's) are deleted; the others are counted. Export lines stay.",
        footer = {"", "Examples:", "  atelier prune --older-than 30d --dry-run", "  atelier prune --older-than 90d"})
public class PruneCommand extends ApiCommand {

    @Option(names = "--older-than", required = true, paramLabel = "AGE",
            description = "How long ago a batch must have finished: 30d, 12h, P90D.")
    String olderThan;

    @Option(names = "--dry-run", description = "Only list what would be deleted.")
    boolean dryRun;

    @Override
    public Integer call() {
        Duration age = Durations.parse("--older-than", olderThan);
        if (age.isNegative() || age.isZero()) {
            throw new CliException("--older-than must be longer than zero");
        }
        Instant cutoff;
        try {
            cutoff = Instant.now().minus(age);
        } catch (java.time.DateTimeException e) {
            throw new CliException("--older-than '" + olderThan + "' reaches before any time there is");
        }
        List<JsonNode> doomed = new ArrayList<>();
        int kept = 0;
        for (JsonNode batch : api().all(Api.Service.LEDGER, "/api/v1/batches", "finished_before", cutoff.toString())) {
            if ("true".equals(batch.path("labels").path("keep").asText())) {
                kept++;
            } else {
                doomed.add(batch);
            }
        }
        int deleted = 0;
        int notYours = 0;
        for (JsonNode batch : doomed) {
            String id = batch.path("id").asText();
            String line = id + "  " + batch.path("state").asText() + "  " + batch.path("name").asText();
            if (dryRun) {
                out().println("would delete " + line);
                continue;
            }
            try {
                api().send(Api.Service.GATEWAY, "DELETE", "/api/v1/batches/" + Api.segment(id), null, Map.of());
                out().println("deleted " + line);
                deleted++;
            } catch (ApiException e) {
                if (e.status() == 403) {
                    notYours++; // another submitter's: an admin token prunes those
                } else if (e.status() != 404) { // 404: deleted meanwhile
                    throw e;
                }
            }
        }
        out().printf("%s %d batch(es) finished before %s%s%s%n", dryRun ? "would delete" : "deleted",
                dryRun ? doomed.size() : deleted, cutoff,
                kept > 0 ? "; kept " + kept + " labelled keep=true" : "",
                notYours > 0 ? "; " + notYours + " submitted by others need an admin token" : "");
        out().flush();
        return CliException.OK;
    }
}
