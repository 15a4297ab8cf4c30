package dev.atelier.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where a JSONL export written earlier ends, so a restarted export continues there: the {@code seq} of its last
 * complete line. A last line cut short (the export was killed mid-write) is removed first; it comes again.
 */
final class ExportFile {

    private ExportFile() {
    }

    /** The last complete line's {@code seq}, or 0 for a missing or empty file; trims a cut-short last line. */
    static long resume(Path file, ObjectMapper json) throws IOException {
        if (!Files.exists(file) || Files.size(file) == 0) {
            return 0;
        }
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            long end = raf.length();
            long lastNewline = previousNewline(raf, end);
            if (lastNewline != end - 1) {
                raf.setLength(lastNewline + 1); // the cut-short tail (everything when no line was complete)
                end = lastNewline + 1;
            }
            if (end == 0) {
                return 0;
            }
            long start = previousNewline(raf, end - 1) + 1;
            byte[] line = new byte[(int) (end - 1 - start)];
            raf.seek(start);
            raf.readFully(line);
            JsonNode last = json.readTree(new String(line, StandardCharsets.UTF_8));
            if (last == null || !last.path("seq").canConvertToLong()) {
                throw new CliException(file + " does not end with an export line (no \"seq\"); give another -o file");
            }
            return last.path("seq").asLong();
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new CliException(file + " does not end with a JSON line; give another -o file");
        }
    }

    /** The position of the last '\n' before {@code before}, or -1. */
    private static long previousNewline(RandomAccessFile raf, long before) throws IOException {
        byte[] chunk = new byte[8192];
        long pos = before;
        while (pos > 0) {
            int size = (int) Math.min(chunk.length, pos);
            raf.seek(pos - size);
            raf.readFully(chunk, 0, size);
            for (int i = size - 1; i >= 0; i--) {
                if (chunk[i] == '\n') {
                    return pos - size + i;
                }
            }
            pos -= size;
        }
        return -1;
    }

    /**
     * The line's seq. The ledger writes it first ({"seq":1042,...}), so it is read from there without parsing the
     * line, which was most of this command's time; any other form is parsed.
     */
    static long seq(String line, ObjectMapper mapper) throws IOException {
        String prefix = "{\"seq\":";
        if (line.startsWith(prefix)) {
            int end = prefix.length();
            while (end < line.length() && end - prefix.length() < 18 && isDigit(line.charAt(end))) {
                end++;
            }
            if (end > prefix.length() && end < line.length() && (line.charAt(end) == ',' || line.charAt(end) == '}')) {
                return Long.parseLong(line, prefix.length(), end, 10);
            }
        }
        return mapper.readTree(line).path("seq").asLong();
    }

    private static boolean isDigit(char c) {
        return c >= '0' && c <= '9';
    }
}
