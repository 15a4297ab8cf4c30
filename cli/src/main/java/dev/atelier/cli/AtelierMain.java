package dev.atelier.cli;

import io.quarkus.runtime.QuarkusApplication;
import io.quarkus.runtime.annotations.QuarkusMain;
import jakarta.inject.Inject;
import picocli.CommandLine;

/** Runs the command line, then tells a pending stop that everything the command had to say is out (see StopOnSignal). */
@QuarkusMain
public class AtelierMain implements QuarkusApplication {

    @Inject
    CommandLine commandLine;

    @Override
    public int run(String... args) {
        try {
            return commandLine.execute(args);
        } finally {
            commandLine.getOut().flush();
            commandLine.getErr().flush();
            StopOnSignal.commandEnded();
        }
    }
}
