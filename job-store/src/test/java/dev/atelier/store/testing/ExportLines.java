package dev.atelier.store.testing;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atelier.store.ExportLog;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/** Reads a page of export JSONL back, checking that its count and last seq agree with its lines. */
public final class ExportLines {

    private static final ObjectMapper JSON = new ObjectMapper();

    private ExportLines() {
    }

    public static List<JsonNode> lines(ExportLog.Page page) {
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        try {
            page.writeTo(bytes);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        String text = bytes.toString(StandardCharsets.UTF_8);
        List<JsonNode> lines = new ArrayList<>();
        try {
            for (String line : text.split("\n")) {
                if (!line.isEmpty()) {
                    lines.add(JSON.readTree(line));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("not JSON lines: " + text, e);
        }
        assertThat(text.isEmpty() || text.endsWith("\n")).as("every line ends with a newline").isTrue();
        assertThat(lines).hasSize(page.count());
        if (!lines.isEmpty()) {
            assertThat(page.lastSeq()).isEqualTo(lines.get(lines.size() - 1).get("seq").asLong());
        }
        return lines;
    }

    public static UUID jobId(JsonNode line) {
        return UUID.fromString(line.get("job_id").asText());
    }
}
