package dev.atelier.cli;

import io.quarkus.picocli.runtime.PicocliCommandLineFactory;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;
import picocli.CommandLine;

/** The command line with UTF-8 output, and failures shown as one message with their exit code, never a stack trace. */
@ApplicationScoped
public class CommandLineSetup {

    @Produces
    @Singleton
    Console console() {
        return Console.system(System.getenv());
    }

    @Produces
    CommandLine commandLine(PicocliCommandLineFactory factory, Console console) {
        return factory.create()
                .setOut(console.out())
                .setErr(console.err())
                .setCaseInsensitiveEnumValuesAllowed(true)
                .setExecutionExceptionHandler((e, commandLine, parseResult) -> {
                    if (e instanceof CliException failure) {
                        console.err().println(console.style().red("error: ") + failure.getMessage());
                        return failure.exitCode();
                    }
                    console.err().println(console.style().red("error: ") + "unexpected " + e.getClass().getSimpleName()
                            + (e.getMessage() != null ? ": " + e.getMessage() : "")
                            + " (please report it with the command you ran)");
                    return CliException.USAGE;
                });
    }
}
