package dev.atelier.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.quarkus.picocli.runtime.annotations.TopCommand;
import jakarta.inject.Inject;
import picocli.AutoComplete;
import picocli.CommandLine.Command;
import picocli.CommandLine.HelpCommand;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

@TopCommand
@Command(name = "atelier", mixinStandardHelpOptions = true, versionProvider = Version.class,
        description = "Run a studio's AI generation work on its own GPUs: submit batches of Ollama and ComfyUI jobs, "
                + "watch them, check the backends, export the ledger.",
        subcommands = {SubmitCommand.class, RunCommand.class, WatchCommand.class, StatusCommand.class,
                CheckCommand.class, JobsCommand.class, JobCommand.class, ExportCommand.class, CancelCommand.class,
                RetryCommand.class, DeleteCommand.class, PruneCommand.class, CrewsCommand.class,
                AutoComplete.GenerateCompletion.class, HelpCommand.class},
        footer = {"",
                "Where the services are: --gateway, --ledger and --token; else ATELIER_GATEWAY_URL, "
                        + "ATELIER_LEDGER_URL and ATELIER_TOKEN; else the config file ($ATELIER_CONFIG, or "
                        + "atelier/config.yaml in $XDG_CONFIG_HOME or ~/.config) with the keys gateway, ledger and "
                        + "token; else http://localhost:8080 and http://localhost:8081.",
                "",
                "Exit codes: 0 all went well; 1 a job failed or was cancelled, or a backend kind is offline; "
                        + "2 usage, input, token or connection errors.",
                "",
                "Examples:",
                "  atelier submit roster.yaml --wait",
                "  atelier run --crew mk1 --task Scorpion --check --wait",
                "  atelier check",
                "  atelier export ledger --follow -o ledger.jsonl",
                "  source <(atelier generate-completion)     (tab completion in bash and zsh)",
                "  atelier <command> --help"})
public class AtelierCommand {

    @Option(names = "--gateway", scope = ScopeType.INHERIT, paramLabel = "URL",
            description = "The gateway (writes), e.g. http://localhost:8080.")
    String gateway;

    @Option(names = "--ledger", scope = ScopeType.INHERIT, paramLabel = "URL",
            description = "The ledger (reads), e.g. http://localhost:8081.")
    String ledger;

    @Option(names = "--token", scope = ScopeType.INHERIT, paramLabel = "TOKEN",
            description = "A bearer token: submit to change things, read to look.")
    String token;

    @Inject
    ObjectMapper mapper;

    private Api api;

    Api api() {
        if (api == null) {
            api = new Api(Settings.resolve(gateway, ledger, token, System.getenv()), mapper);
        }
        return api;
    }
}
