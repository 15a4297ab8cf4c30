package dev.atelier.store.testing;

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
 * memory limit, which is what the JVM finds in the pod, the {@code -X} options of its {@code JAVA_OPTS_APPEND}
 * (its {@code -D} options are settings the tests give their own way) and the collector the image runs it with. The system tests and the bench start the
 * packaged services with them, so that what they measure is what a pod runs.
 */
public final class PodJvm {

    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    /**
     * The collector the JVM image's run-java.sh gives the process unless {@code GC_CONTAINER_OPTIONS} says
     * otherwise (ubi9/openjdk-17-runtime). Outside a container the JVM would pick G1 instead, which is not what runs.
     */
    public static final String IMAGE_COLLECTOR = "-XX:+UseParallelGC";

    private PodJvm() {
    }

    /** @param k8sBase the repository's {@code k8s/base} */
    public static List<String> options(Path k8sBase, String service) {
        JsonNode container;
        try {
            // the file's first document is the Deployment
            container = YAML.readTree(k8sBase.resolve(service + ".yaml").toFile())
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
        String collector = IMAGE_COLLECTOR;
        for (JsonNode env : container.path("env")) {
            String name = env.path("name").asText();
            if (name.equals("JAVA_OPTS_APPEND")) {
                for (String option : env.path("value").asText().trim().split("\\s+")) {
                    if (option.startsWith("-X")) {
                        options.add(option);
                    }
                }
            } else if (name.equals("GC_CONTAINER_OPTIONS")) {
                collector = env.path("value").asText().trim();
            }
        }
        options.addAll(List.of(collector.split("\\s+")));
        return options;
    }

    /** The container's memory limit, in bytes. */
    public static long memoryLimitBytes(Path k8sBase, String service) {
        String maxRam = options(k8sBase, service).get(0);
        return Long.parseLong(maxRam.replaceAll("[^0-9]", "")) << 20;
    }
}
