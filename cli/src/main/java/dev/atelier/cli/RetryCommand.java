package dev.atelier.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "retry", mixinStandardHelpOptions = true,
        description = "Run a failed or cancelled job again with a fresh attempt budget (its history is kept), or "
                + "with --failed every failed job of a batch.",
        footer = {"", "Examples:", "  atelier retry 0190f5b2-8c1e-7a3d-9f10-5b2c4d6e8f02",
                "  atelier retry --failed 0190f5b2-8c1e-7a3d-9f10-5b2c4d6e8f01 --wait"})
public class RetryCommand extends ApiCommand {

    @Parameters(index = "0", paramLabel = "JOB|BATCH", description = "A job id, or with --failed a batch id.")
    String id;

    @Option(names = "--failed", description = "Retry every failed job of the batch ID.")
    boolean failedOfBatch;

    @Option(names = "--wait", description = "With --failed, watch the batch until it ends again.")
    boolean waitForEnd;

    @Option(names = "--json", description = "Print the gateway's answer as JSON.")
    boolean json;

    @Override
    public Integer call() {
        if (!failedOfBatch) {
            if (waitForEnd) {
                throw new CliException("--wait goes with --failed BATCH");
            }
            JsonNode answer = api().post(Api.Service.GATEWAY, "/api/v1/jobs/" + Api.segment(id) + "/retry", null, Map.of()).body();
            if (json) {
                printJson(answer);
            } else {
                out().println("job " + id + " is " + answer.path("state").asText("pending") + " again");
                out().flush();
            }
            return CliException.OK;
        }
        JsonNode batch = api().post(Api.Service.GATEWAY, "/api/v1/batches/" + Api.segment(id) + "/retry-failed", null,
                Map.of()).body();
        if (json) {
            printJson(batch);
        } else {
            ProgressView.Counts c = ProgressView.Counts.of(batch.path("status_counts"));
            out().println("batch " + batch.path("name").asText() + " (" + id + ") is " + batch.path("state").asText()
                    + ": " + (c.pending() + c.running() + c.retry()) + " job(s) to run, " + c.success() + " succeeded"
                    + (c.failed() > 0 ? ", " + c.failed() + " still failed" : ""));
            out().flush();
        }
        return waitForEnd ? new Watcher(api(), console, Watcher.DEFAULT_INTERVAL).watch(id) : CliException.OK;
    }
}
