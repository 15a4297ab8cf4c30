package dev.atelier.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class HelpTests {

    @Test
    void everyCommandHasHelpWithExamples() {
        List<String> checked = new ArrayList<>();
        check(new CommandLine(new AtelierCommand()), checked);
        assertThat(checked).contains("atelier", "atelier submit", "atelier run", "atelier watch", "atelier status",
                "atelier check", "atelier jobs", "atelier job", "atelier export", "atelier cancel", "atelier retry",
                "atelier crews", "atelier crews put");
    }

    private static void check(CommandLine command, List<String> checked) {
        String name = command.getCommandSpec().qualifiedName();
        if (name.endsWith(" help") || name.endsWith(" generate-completion")) {
            return; // picocli's own
        }
        String usage = command.getUsageMessage(CommandLine.Help.Ansi.OFF);
        assertThat(usage).as(name).startsWith("Usage: " + name);
        assertThat(command.getCommandSpec().mixinStandardHelpOptions()).as(name + " --help").isTrue();
        boolean leafOfCrews = name.startsWith("atelier crews ");
        if (!leafOfCrews) { // the crews subcommands share the examples of `atelier crews --help`
            assertThat(usage).as(name).contains("Examples:");
        }
        checked.add(name);
        command.getSubcommands().values().forEach(sub -> check(sub, checked));
    }
}
