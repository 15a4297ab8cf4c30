package dev.atelier.k8s;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.KubernetesList;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.ByteArrayInputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Reads the manifests the way a cluster would get them: rendered by {@code kubectl kustomize} where kubectl is
 * installed, and otherwise assembled from the files each kustomization lists (its resources, recursively), so the
 * checks run on every machine. Every document is parsed with the fabric8 Kubernetes model.
 */
final class Manifests {

    static final Path ROOT = Path.of(".").toAbsolutePath().normalize();
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    private Manifests() {
    }

    /** The overlay's resources as the files list them, parsed with fabric8. */
    static List<HasMetadata> assembled(String overlay) throws IOException {
        return assemble(ROOT.resolve("overlays").resolve(overlay));
    }

    private static List<HasMetadata> assemble(Path kustomizationDir) throws IOException {
        JsonNode kustomization = YAML.readTree(kustomizationDir.resolve("kustomization.yaml").toFile());
        List<HasMetadata> resources = new ArrayList<>();
        for (JsonNode entry : kustomization.path("resources")) {
            Path path = kustomizationDir.resolve(entry.asText()).normalize();
            if (Files.isDirectory(path)) {
                resources.addAll(assemble(path));
            } else {
                resources.addAll(parse(Files.readString(path)));
            }
        }
        return resources;
    }

    /** Whether {@code kubectl} (with its built-in kustomize) is on this machine. */
    static boolean kubectlInstalled() {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            if (Files.isExecutable(Path.of(dir, "kubectl"))) {
                return true;
            }
        }
        return false;
    }

    /** The overlay as {@code kubectl kustomize} renders it. */
    static List<HasMetadata> rendered(String overlay) throws IOException, InterruptedException {
        Process kubectl = new ProcessBuilder("kubectl", "kustomize", ROOT.resolve("overlays").resolve(overlay).toString())
                .redirectErrorStream(true).start();
        String output = new String(kubectl.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!kubectl.waitFor(60, TimeUnit.SECONDS) || kubectl.exitValue() != 0) {
            throw new IllegalStateException("kubectl kustomize " + overlay + " failed:\n" + output);
        }
        return parse(output);
    }

    /** Every document of a YAML text, as fabric8 model objects (CRDs such as KEDA's as generic resources). */
    static List<HasMetadata> parse(String yaml) {
        List<HasMetadata> resources = new ArrayList<>();
        for (String document : yaml.split("(?m)^---\\s*$")) {
            if (document.lines().allMatch(l -> l.isBlank() || l.trim().startsWith("#"))) {
                continue;
            }
            InputStream in = new ByteArrayInputStream(document.getBytes(StandardCharsets.UTF_8));
            Object parsed = Serialization.unmarshal(in);
            if (parsed instanceof KubernetesList list) {
                resources.addAll(list.getItems());
            } else if (parsed instanceof List<?> list) {
                list.forEach(item -> resources.add((HasMetadata) item));
            } else {
                resources.add((HasMetadata) parsed);
            }
        }
        return resources;
    }
}
