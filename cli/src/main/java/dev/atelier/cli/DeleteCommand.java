package dev.atelier.cli;

import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

@Command(name = "delete", mixinStandardHelpOptions = true,
        description = "Delete a batch whose jobs have all ended (cancel it first to end them): its jobs, attempts, "
                + "counts and images go. Its lines in the ledger's exports stay. Needs the token that submitted it, "
                + "or an admin token.",
        footer = {"", "Examples:", "  atelier delete 0190f5b2-8c1e-7a3d-9f10-5b2c4d6e8f01"})
public class DeleteCommand extends ApiCommand {

    @Parameters(index = "0", paramLabel = "BATCH", description = "A batch id.")
    String id;

    @Override
    public Integer call() {
        try {
            api().send(Api.Service.GATEWAY, "DELETE", "/api/v1/batches/" + Api.segment(id), null, Map.of());
        } catch (ApiException e) {
            if (e.status() == 404) {
                throw new CliException("no batch " + id);
            }
            throw e;
        }
        out().println("deleted batch " + id);
        out().flush();
        return CliException.OK;
    }
}
