package dev.atelier.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ExportFileTests {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    @Test
    void aLinesSeqIsReadFromItsStartOrByParsingIt() throws Exception {
        assertThat(ExportFile.seq("{\"seq\":1042,\"job_id\":\"x\"}", JSON)).isEqualTo(1042);
        assertThat(ExportFile.seq("{\"seq\":9223372036854775807}", JSON)).as("by parsing: 19 digits").isEqualTo(
                Long.MAX_VALUE);
        assertThat(ExportFile.seq("{\"seq\": 7, \"status\": \"failed\"}", JSON)).as("another server's spacing")
                .isEqualTo(7);
        assertThat(ExportFile.seq("{\"status\":\"failed\",\"seq\":8}", JSON)).as("another order").isEqualTo(8);
        assertThatThrownBy(() -> ExportFile.seq("{\"seq\":12x}", JSON)).as("not JSON").isInstanceOf(
                java.io.IOException.class);
        assertThatThrownBy(() -> ExportFile.seq("{\"seq\":12", JSON)).as("cut short").isInstanceOf(
                java.io.IOException.class);
    }

    @Test
    void aFileContinuesAfterItsLastCompleteLine() throws Exception {
        Path file = dir.resolve("ledger.jsonl");
        assertThat(ExportFile.resume(file, JSON)).as("missing").isZero();
        Files.writeString(file, "{\"seq\": 1, \"status\": \"success\"}\n{\"seq\": 7, \"status\": \"failed\"}\n");
        assertThat(ExportFile.resume(file, JSON)).isEqualTo(7);
        assertThat(Files.readString(file)).endsWith("\"failed\"}\n");
    }

    @Test
    void aLineCutShortIsRemovedSoItComesAgainWhole() throws Exception {
        Path file = dir.resolve("ledger.jsonl");
        String whole = "{\"seq\": 1, \"details\": \"" + "x".repeat(20_000) + "\"}\n";
        Files.writeString(file, whole + "{\"seq\": 2, \"job_id\": \"cut-sh");

        assertThat(ExportFile.resume(file, JSON)).isEqualTo(1);
        assertThat(Files.readString(file)).isEqualTo(whole);

        Files.writeString(file, "{\"seq\": 3, \"jo");
        assertThat(ExportFile.resume(file, JSON)).as("no complete line at all").isZero();
        assertThat(Files.size(file)).isZero();
    }

    @Test
    void aFileThatIsNotAnExportIsLeftAloneWithAMessage() throws Exception {
        Path file = dir.resolve("notes.txt");
        Files.writeString(file, "my notes\n");
        assertThatThrownBy(() -> ExportFile.resume(file, JSON)).hasMessageContaining("does not end with a JSON line");
        Files.writeString(file, "{\"name\": \"x\"}\n");
        assertThatThrownBy(() -> ExportFile.resume(file, JSON)).hasMessageContaining("no \"seq\"");
        assertThat(Files.readString(file)).isEqualTo("{\"name\": \"x\"}\n");
    }
}
