package dev.atelier.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "cancel", mixinStandardHelpOptions = true,
        description = "Cancel a batch or one job. Waiting jobs end at once; running ones are stopped at their backend "
                + "(a job that finishes first keeps its success). Cancelling again changes nothing.",
        footer = {"", "Examples:", "  atelier cancel 0190f5b2-8c1e-7a3d-9f10-5b2c4d6e8f01"})
public class CancelCommand extends ApiCommand {

    @Parameters(index = "0", paramLabel = "BATCH|JOB", description = "A batch id or a job id.")
    String id;

    @Option(names = "--json", description = "Print the gateway's answer as JSON.")
    boolean json;

    @Override
    public Integer call() {
        JsonNode answer;
        boolean batch = true;
        try {
            answer = api().post(Api.Service.GATEWAY, "/api/v1/batches/" + Api.segment(id) + "/cancel", null, Map.of()).body();
        } catch (ApiException e) {
            if (e.status() != 404) {
                throw e;
            }
            batch = false;
            try {
                answer = api().post(Api.Service.GATEWAY, "/api/v1/jobs/" + Api.segment(id) + "/cancel", null, Map.of()).body();
            } catch (ApiException notAJob) {
                if (notAJob.status() == 404) {
                    throw new CliException("no batch or job " + id);
                }
                throw notAJob;
            }
        }
        if (json) {
            printJson(answer);
        } else if (batch) {
            ProgressView.Counts c = ProgressView.Counts.of(answer.path("status_counts"));
            out().println("cancelled batch " + answer.path("name").asText() + " (" + id + "): " + c.cancelled()
                    + " job(s) cancelled" + (c.running() > 0 ? ", " + c.running() + " running being stopped" : "")
                    + (c.success() > 0 ? ", " + c.success() + " had already succeeded" : ""));
        } else if (answer.path("cancelled").asBoolean()) {
            out().println("cancelled job " + id);
        } else if (answer.path("cancel_requested").asBoolean()) {
            out().println("job " + id + " is running: its backend is being told to stop");
        } else {
            out().println("job " + id + " had already ended; nothing to cancel");
        }
        out().flush();
        return CliException.OK;
    }
}
