package dev.atelier.system;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The JVM a service's Deployment ({@code k8s/base/<service>.yaml}) gives it: {@code -XX:MaxRAM} at its container's
 * memory limit, which is what the JVM finds in the pod, and the {@code -X} options of its {@code JAVA_OPTS_APPEND}
 * (its {@code -D} options are settings the tests give their own way).
 */
final class PodJvm {

    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    private PodJvm() {
    }

    static List<String> options(String service) {
        JsonNode container;
        try {
            // the file's first document is the Deployment
            container = YAML.readTree(Path.of("..", "k8s", "base", service + ".yaml").toFile())
                    .at("/spec/template/spec/containers/0");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        String limit = container.at("/resources/limits/memory").asText();
        if (!limit.matches("[0-9]+Mi")) {
            throw new IllegalStateException(service + ": a memory limit in Mi was expected, not '" + limit + "'");
        }
        List<String> options = new ArrayList<>();
        options.add("-XX:MaxRAM=" + limit.replace("Mi", "m"));
        for (JsonNode env : container.path("env")) {
            if (env.path("name").asText().equals("JAVA_OPTS_APPEND")) {
                for (String option : env.path("value").asText().trim().split("\\s+")) {
                    if (option.startsWith("-X")) {
                        options.add(option);
                    }
                }
            }
        }
        return options;
    }

    /** The container's memory limit, in bytes. */
    static long memoryLimitBytes(String service) {
        String maxRam = options(service).get(0);
        return Long.parseLong(maxRam.replaceAll("[^0-9]", "")) << 20;
    }
}
