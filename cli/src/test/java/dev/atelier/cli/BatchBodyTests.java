package dev.atelier.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BatchBodyTests {

    @TempDir
    Path dir;

    @Test
    void aTaskListInYamlBecomesTheJobsOfABatchWithKeysFromItsTasks() throws Exception {
        Path file = dir.resolve("roster.yml");
        Files.writeString(file, """
                - {crew: mk1, task: Scorpion, priority: 1}
                - {crew: mk1, task: Scorpion, priority: 2}
                - {crew: code, task: "Create HealthUI.cs", priority: 3}
                - {key: own, crew: mk1, task: SubZero}
                - {type: ollama.generate, model: llama3.2, prompt: hi}
                """);

        ObjectNode body = BatchBody.of(InputFiles.read(file.toString(), null), "roster.yml");

        assertThat(keys(body)).containsExactly("Scorpion", "Scorpion-2", "Create-HealthUI.cs", "own", null);
        assertThat(body.path("jobs").get(2).path("priority").asInt()).isEqualTo(3);
        assertThat(body.has("name")).as("the file's name is the options' default, not the body's").isFalse();
    }

    @Test
    void anApiBodyFromStandardInputIsKeptAsItIsAndOptionsOverrideIt() {
        String json = """
                {"name": "mk1-roster", "mode": "parallel", "retry": {"backoff": 3.0}, "labels": {"team": "art"},
                 "jobs": [{"key": "scorpion", "crew": "mk1", "task": "Scorpion"}]}""";
        ObjectNode body = BatchBody.of(InputFiles.read("-", stdin(json)), "standard input");
        BatchOptions options = new BatchOptions();
        options.retries = 5;
        options.retryDelay = "10";
        options.labels = Map.of("project", "mk1");

        options.applyTo(body, "stdin");

        assertThat(body.path("name").asText()).isEqualTo("mk1-roster");
        assertThat(body.path("mode").asText()).isEqualTo("parallel");
        assertThat(body.path("retry").toString()).isEqualTo("{\"backoff\":3.0,\"max_attempts\":6,\"delay\":\"PT10S\"}");
        assertThat(body.path("labels").toString()).isEqualTo("{\"team\":\"art\",\"project\":\"mk1\"}");
        assertThat(keys(body)).containsExactly("scorpion");
    }

    @Test
    void whatIsNeitherShapeOrDoesNotParseIsNamedWithWhereItWentWrong() throws Exception {
        Path broken = dir.resolve("broken.json");
        Files.writeString(broken, "[\n  {\"crew\": \"mk1\",\n   \"task\" \"Scorpion\"}]");
        assertThatThrownBy(() -> InputFiles.read(broken.toString(), null))
                .hasMessageStartingWith(broken + " is not valid JSON (line 3, column");
        Path yaml = dir.resolve("broken.yaml");
        Files.writeString(yaml, "- crew: mk1\n  task: [unclosed\n");
        assertThatThrownBy(() -> InputFiles.read(yaml.toString(), null)).hasMessageContaining("is not valid YAML (line");
        assertThatThrownBy(() -> BatchBody.of(InputFiles.read("-", stdin("{\"name\": \"x\"}")), "standard input"))
                .hasMessageContaining("neither a batch");
        assertThatThrownBy(() -> BatchBody.of(InputFiles.read("-", stdin("[]")), "standard input"))
                .hasMessageContaining("at least one job");
        assertThatThrownBy(() -> BatchBody.of(InputFiles.read("-", stdin("[\"Scorpion\"]")), "standard input"))
                .hasMessageContaining("jobs[0] is not an object");
        assertThatThrownBy(() -> InputFiles.read(dir.resolve("missing.yaml").toString(), null))
                .hasMessageEndingWith("no such file");
        assertThatThrownBy(() -> InputFiles.read("-", stdin("  \n"))).hasMessage("standard input is empty");
    }

    @Test
    void retriesOutsideTheApisRangeAreRefusedBeforeAnythingIsSent() {
        BatchOptions options = new BatchOptions();
        options.retries = 20;
        assertThatThrownBy(() -> options.applyTo(new com.fasterxml.jackson.databind.ObjectMapper().createObjectNode(), "x"))
                .hasMessageContaining("--retries must be 0..19");
    }

    @Test
    void keysKeepToTheApisAlphabetAndLength() {
        assertThat(BatchBody.slug("  Liu Kang / Shaolin!  ")).isEqualTo("Liu-Kang-Shaolin");
        assertThat(BatchBody.slug("x".repeat(150))).hasSize(100);
        assertThat(BatchBody.slug("¿?")).isEmpty();
    }

    private static List<String> keys(JsonNode body) {
        List<String> keys = new ArrayList<>();
        body.path("jobs").forEach(j -> keys.add(j.hasNonNull("key") ? j.get("key").asText() : null));
        return keys;
    }

    private static ByteArrayInputStream stdin(String text) {
        return new ByteArrayInputStream(text.getBytes(StandardCharsets.UTF_8));
    }
}
