package dev.atelier.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "jobs", mixinStandardHelpOptions = true,
        description = "A batch's jobs in batch order: state, attempts, and the error, the waiting reason or the "
                + "start of the result.",
        footer = {"", "Examples:", "  atelier jobs 0190f5b2-8c1e-7a3d-9f10-5b2c4d6e8f01 --state failed",
                "  atelier jobs 0190f5b2-8c1e-7a3d-9f10-5b2c4d6e8f01 --json | jq -r '.[].id'"})
public class JobsCommand extends ApiCommand {

    @Parameters(index = "0", paramLabel = "BATCH", description = "A batch id.")
    String batchId;

    @Option(names = "--state", split = ",", paramLabel = "STATE",
            description = "Only jobs in these states: pending, running, retry, success, failed, cancelled.")
    List<String> states;

    @Option(names = "--json", description = "Print the jobs as a JSON array.")
    boolean json;

    @Override
    public Integer call() {
        String state = states == null ? null : String.join(",", states);
        ArrayNode jobs = api().all(Api.Service.LEDGER, "/api/v1/jobs", "batch", batchId, "state", state);
        if (json) {
            printJson(jobs);
            return CliException.OK;
        }
        if (jobs.isEmpty()) {
            out().println("no jobs" + (state == null ? "" : " in state " + state));
            out().flush();
            return CliException.OK;
        }
        Table table = new Table("ID", "KEY", "PRI", "STATE", "ATTEMPT", "ELAPSED", "WHAT", "DETAIL");
        for (JsonNode j : jobs) {
            table.row(j.path("id").asText(), j.path("key").asText(), j.path("priority").asInt(), j.path("state").asText(),
                    j.path("attempt").asInt() + "/" + j.path("max_attempts").asInt(),
                    j.hasNonNull("elapsed_sec") ? Durations.shortly(j.path("elapsed_sec").asDouble()) : null,
                    FinalReport.what(j), detail(j));
        }
        table.print(out(), console.width(), "");
        return CliException.OK;
    }

    private static String detail(JsonNode job) {
        for (String field : List.of("error", "waiting_reason", "result_preview")) {
            if (job.hasNonNull(field) && !job.path(field).asText().isBlank()) {
                return job.path(field).asText();
            }
        }
        return null;
    }
}
