package dev.atelier.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import jakarta.inject.Inject;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** What every command that talks to the API shares: the connection from the top command's options, and output. */
abstract class ApiCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Inject
    ObjectMapper mapper;

    @Inject
    Console console;

    Api api() {
        return ((AtelierCommand) spec.root().userObject()).api();
    }

    PrintWriter out() {
        return console.out();
    }

    Style style() {
        return console.style();
    }

    /** Prints an API answer as indented JSON, for scripts ({@code --json}). */
    void printJson(JsonNode node) {
        try {
            out().println(mapper.writerWithDefaultPrettyPrinter().writeValueAsString(node));
            out().flush();
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
