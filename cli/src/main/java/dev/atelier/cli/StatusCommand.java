package dev.atelier.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "status", mixinStandardHelpOptions = true,
        description = "The cluster's summary and the latest batches, or one batch with its priority groups.",
        footer = {"", "Examples:", "  atelier status", "  atelier status 0190f5b2-8c1e-7a3d-9f10-5b2c4d6e8f01",
                "  atelier status --json | jq .status_counts"})
public class StatusCommand extends ApiCommand {

    @Parameters(index = "0", arity = "0..1", paramLabel = "BATCH", description = "A batch id.")
    String batchId;

    @Option(names = "--json", description = "Print the ledger's answer (the summary, or the batch) as JSON.")
    boolean json;

    @Override
    public Integer call() {
        if (batchId != null) {
            JsonNode batch = api().get(Api.Service.LEDGER, "/api/v1/batches/" + Api.segment(batchId));
            if (json) {
                printJson(batch);
            } else {
                printBatch(batch);
            }
            return CliException.OK;
        }
        JsonNode summary = api().get(Api.Service.LEDGER, "/api/v1/summary");
        if (json) {
            printJson(summary);
            return CliException.OK;
        }
        ProgressView.Counts counts = ProgressView.Counts.of(summary.path("status_counts"));
        out().println(style().bold("Jobs") + ": " + summary.path("total_tasks").asLong() + " in all — "
                + counts.pending() + " pending, " + counts.running() + " running, " + counts.retry() + " waiting to retry, "
                + counts.success() + " succeeded, " + counts.failed() + " failed, " + counts.cancelled() + " cancelled");
        StringBuilder services = new StringBuilder(style().bold("Backends") + ":");
        summary.path("services").fields().forEachRemaining(e ->
                services.append(' ').append(e.getKey()).append(' ').append(style().state(e.getValue().asText())));
        out().println(services.append("   (details: atelier check)"));
        JsonNode batches = api().get(Api.Service.LEDGER, Api.path("/api/v1/batches", "limit", 10)).path("items");
        out().println();
        if (batches.isEmpty()) {
            out().println("No batches yet: atelier submit FILE");
            out().flush();
            return CliException.OK;
        }
        out().println(style().bold("Latest batches"));
        Table table = new Table("ID", "NAME", "STATE", "DONE", "MODE", "BY", "CREATED");
        Instant now = Instant.now();
        for (JsonNode b : batches) {
            ProgressView.Counts c = ProgressView.Counts.of(b.path("status_counts"));
            table.row(b.path("id").asText(), ProgressView.shorten(b.path("name").asText(), 30), b.path("state").asText(),
                    c.done() + "/" + c.total(), b.path("mode").asText(), b.path("submitted_by").asText(null),
                    Durations.ago(Instant.parse(b.path("created_at").asText()), now));
        }
        table.print(out(), console.width(), "  ");
        return CliException.OK;
    }

    private void printBatch(JsonNode batch) {
        out().println(style().bold(batch.path("name").asText()) + "  " + style().state(batch.path("state").asText())
                + "  (batch " + batch.path("id").asText() + ")");
        out().println("  mode " + batch.path("mode").asText() + " · priority " + batch.path("priority").asInt()
                + " · submitted by " + batch.path("submitted_by").asText("-") + " at " + batch.path("created_at").asText()
                + " · elapsed " + Durations.clock(batch.path("elapsed_sec").asDouble(0)));
        if (!batch.path("labels").isEmpty()) {
            StringBuilder labels = new StringBuilder("  labels");
            batch.path("labels").fields().forEachRemaining(e ->
                    labels.append(' ').append(e.getKey()).append('=').append(e.getValue().asText()));
            out().println(labels);
        }
        out().println();
        Table table = new Table("GROUP", "PENDING", "RUNNING", "RETRY", "SUCCESS", "FAILED", "CANCELLED", "DONE");
        for (JsonNode group : batch.path("groups")) {
            addCounts(table, "priority " + group.path("priority").asInt(), group.path("status_counts"));
        }
        addCounts(table, "all", batch.path("status_counts"));
        table.print(out(), console.width(), "  ");
        out().println();
        out().println("Jobs: atelier jobs " + batch.path("id").asText() + "   Live: atelier watch " + batch.path("id").asText());
        out().flush();
    }

    private static void addCounts(Table table, String label, JsonNode counts) {
        ProgressView.Counts c = ProgressView.Counts.of(counts);
        table.row(label, c.pending(), c.running(), c.retry(), c.success(), c.failed(), c.cancelled(),
                c.done() + "/" + c.total());
    }
}
