package dev.atelier.cli;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Reads what users hand the CLI (task lists, batch bodies, crews) as JSON or YAML, from a file or {@code -} for
 * standard input. A file that does not parse is named with the line and column of the fault.
 */
public final class InputFiles {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    private InputFiles() {
    }

    /** The parsed document; {@code -} reads {@code stdin}. */
    public static JsonNode read(String file, InputStream stdin) {
        String name = "-".equals(file) ? "standard input" : file;
        byte[] bytes;
        try {
            bytes = "-".equals(file) ? stdin.readAllBytes() : Files.readAllBytes(Path.of(file));
        } catch (NoSuchFileException e) {
            throw new CliException("cannot read " + name + ": no such file");
        } catch (IOException e) {
            throw new CliException("cannot read " + name + ": " + e.getMessage());
        }
        String text = new String(bytes, StandardCharsets.UTF_8);
        if (text.isBlank()) {
            throw new CliException(name + " is empty");
        }
        boolean yaml = isYaml(file, text);
        try {
            JsonNode document = (yaml ? YAML : JSON).readTree(text);
            if (document == null || document.isMissingNode() || document.isNull()) {
                throw new CliException(name + " holds no document");
            }
            return document;
        } catch (JsonProcessingException e) {
            JsonLocation at = e.getLocation();
            throw new CliException(name + " is not valid " + (yaml ? "YAML" : "JSON")
                    + (at != null && at.getLineNr() > 0 ? " (line " + at.getLineNr() + ", column " + at.getColumnNr() + ")" : "")
                    + ": " + CliException.firstLine(e.getOriginalMessage()));
        }
    }

    /** By extension; otherwise JSON when it starts like JSON. */
    static boolean isYaml(String file, String text) {
        String lower = file.toLowerCase(Locale.ROOT);
        if (lower.endsWith(".yaml") || lower.endsWith(".yml")) {
            return true;
        }
        if (lower.endsWith(".json")) {
            return false;
        }
        String start = text.stripLeading();
        return !(start.startsWith("{") || start.startsWith("["));
    }

    /** The file's name without directory and extension ({@code rosters/mk1.yaml} gives {@code mk1}). */
    static String stem(String file) {
        String name = Path.of(file).getFileName().toString();
        int dot = name.lastIndexOf('.');
        return dot > 0 ? name.substring(0, dot) : name;
    }
}
