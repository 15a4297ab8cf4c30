package dev.atelier.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "crews", mixinStandardHelpOptions = true,
        description = "Crews are job templates: {task} in their strings becomes a crew job's task.",
        subcommands = {CrewsCommand.List.class, CrewsCommand.Get.class, CrewsCommand.Put.class, CrewsCommand.Delete.class},
        footer = {"", "Examples:", "  atelier crews list", "  atelier crews get mk1 --yaml > mk1.yaml",
                "  atelier crews put mk1.yaml", "  atelier crews delete old-crew"})
public class CrewsCommand {

    @Command(name = "list", mixinStandardHelpOptions = true, description = "Every crew, by name.")
    static class List extends ApiCommand {
        @Option(names = "--json", description = "Print the crews as a JSON array.")
        boolean json;

        @Override
        public Integer call() {
            ArrayNode crews = api().all(Api.Service.GATEWAY, "/api/v1/crews");
            if (json) {
                printJson(crews);
                return CliException.OK;
            }
            Table table = new Table("NAME", "TYPE", "MODEL", "UPDATED", "PROMPT");
            for (JsonNode crew : crews) {
                JsonNode t = crew.path("template");
                table.row(crew.path("name").asText(), t.path("type").asText(), t.path("model").asText(null),
                        crew.path("updated_at").asText(null), ProgressView.shorten(t.path("prompt").asText(""), 60));
            }
            table.print(out(), console.width(), "");
            return CliException.OK;
        }
    }

    @Command(name = "get", mixinStandardHelpOptions = true,
            description = "One crew as stored (name, template, times); crews put takes it back as it is.")
    static class Get extends ApiCommand {
        @Parameters(index = "0", paramLabel = "NAME")
        String name;

        @Option(names = "--yaml", description = "Print YAML (multi-line prompts read better) rather than JSON.")
        boolean yaml;

        @Override
        public Integer call() {
            JsonNode crew = api().get(Api.Service.GATEWAY, "/api/v1/crews/" + Api.segment(name));
            if (!yaml) {
                printJson(crew);
                return CliException.OK;
            }
            try {
                out().print(new ObjectMapper(YAMLFactory.builder().disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
                        .enable(YAMLGenerator.Feature.LITERAL_BLOCK_STYLE).build()).writeValueAsString(crew));
                out().flush();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return CliException.OK;
        }
    }

    @Command(name = "put", mixinStandardHelpOptions = true,
            description = {"Create or replace a crew from a file (JSON or YAML): a bare template "
                    + "({\"type\": \"ollama.generate\", \"model\": ..., \"prompt\": \"... {task} ...\"}) or what "
                    + "crews get prints. Jobs already submitted keep the template they were made from."})
    static class Put extends ApiCommand {
        @Parameters(index = "0", paramLabel = "FILE", description = "The crew; - reads standard input.")
        String file;

        @Option(names = "--name", paramLabel = "NAME",
                description = "The crew's name (default: the file's \"name\", else the file's name).")
        String name;

        @Override
        public Integer call() {
            JsonNode document = InputFiles.read(file, System.in);
            if (!document.isObject()) {
                throw new CliException(file + " must hold one crew: an object with \"type\" (or \"template\")");
            }
            JsonNode template = document.has("template") ? document.get("template") : document;
            String crewName = name != null ? name
                    : document.hasNonNull("name") && document.has("template") ? document.get("name").asText()
                    : "-".equals(file) ? null : InputFiles.stem(file);
            if (crewName == null) {
                throw new CliException("give the crew's --name (standard input has no file name)");
            }
            Api.Answer answer = api().send(Api.Service.GATEWAY, "PUT", "/api/v1/crews/" + Api.segment(crewName),
                    template, Map.of());
            out().println((answer.status() == 201 ? "created" : "replaced") + " crew " + crewName);
            out().flush();
            return CliException.OK;
        }
    }

    @Command(name = "delete", mixinStandardHelpOptions = true,
            description = "Delete a crew; jobs already submitted from it are not affected.")
    static class Delete extends ApiCommand {
        @Parameters(index = "0", paramLabel = "NAME")
        String name;

        @Override
        public Integer call() {
            api().send(Api.Service.GATEWAY, "DELETE", "/api/v1/crews/" + Api.segment(name), null, Map.of());
            out().println("deleted crew " + name);
            out().flush();
            return CliException.OK;
        }
    }
}
