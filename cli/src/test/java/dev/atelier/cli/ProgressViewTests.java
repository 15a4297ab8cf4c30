package dev.atelier.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.List;
import org.junit.jupiter.api.Test;

class ProgressViewTests {

    private static final ObjectMapper JSON = new ObjectMapper();
    private final ProgressView plain = new ProgressView(new Style(false), 80);

    @Test
    void drawsABarForTheBatchAndOnePerGroupWithCountsAndEtas() throws Exception {
        // 7 jobs, 4 done in 20 s: 5 s a job; group 1 has 1 to go (5 s), the batch 3 (15 s)
        JsonNode batch = batch("priority", 20.0, counts(2, 1, 0, 3, 1, 0),
                group(1, counts(0, 1, 0, 3, 1, 0)), group(2, counts(2, 0, 0, 0, 0, 0)));

        List<String> frame = plain.frame(batch);

        assertThat(frame).hasSize(4);
        assertThat(frame.get(0)).isEqualTo("roster · running · priority mode · 0:20 elapsed · eta 0:15");
        assertThat(frame.get(1)).startsWith("  batch     " + "█".repeat(14) + "▓".repeat(4) + "▒".repeat(5) + "░".repeat(9))
                .contains(" 4/7  ✓3 ✗1 ▶1 · eta 0:15");
        assertThat(frame.get(2)).contains("group 1", " 4/5  ✓3 ✗1 ▶1 · eta 0:05");
        assertThat(frame.get(3)).contains("group 2", "0/2", "waiting").doesNotContain("eta");
    }

    @Test
    void beforeTheFirstJobEndsTheEtaIsUnknownAndAFinishedBatchHasNone() throws Exception {
        assertThat(plain.frame(batch("parallel", 3.0, counts(1, 1, 0, 0, 0, 0))).get(0)).endsWith("eta --:--");
        List<String> done = plain.frame(batch("parallel", 9.0, counts(0, 0, 0, 2, 0, 0)));
        assertThat(done.get(0)).doesNotContain("eta");
        assertThat(done).as("one group: no group bars").hasSize(2);
        assertThat(done.get(1)).endsWith("2/2  ✓2 done");
    }

    @Test
    void manyGroupsShowTheUnfinishedOnesAndSayWhatIsHidden() throws Exception {
        JsonNode[] groups = new JsonNode[12];
        for (int i = 0; i < 12; i++) {
            groups[i] = group(i + 1, i < 2 ? counts(0, 0, 0, 1, 0, 0) : counts(1, 0, 0, 0, 0, 0));
        }
        List<String> frame = plain.frame(batch("priority", 5.0, counts(10, 0, 0, 2, 0, 0), groups));

        assertThat(frame).hasSize(2 + ProgressView.MAX_GROUP_LINES + 1);
        assertThat(frame.get(2)).contains("group 3");
        assertThat(frame.get(frame.size() - 1)).contains("2 finished and 2 later groups not shown");
    }

    @Test
    void whenPipedItIsOneLineNamingTheGroupAtWork() throws Exception {
        JsonNode batch = batch("priority", 20.0, counts(2, 1, 0, 3, 1, 0),
                group(1, counts(0, 1, 0, 3, 1, 0)), group(2, counts(2, 0, 0, 0, 0, 0)));
        assertThat(plain.line(batch)).isEqualTo("0:20 roster running 4/7 (✓3 ✗1 ▶1) · group 1 4/5 · eta 0:15");
        assertThat(plain.line(batch("parallel", 0.0, counts(3, 0, 0, 0, 0, 0)))).isEqualTo("0:00 roster running 0/3 (waiting) · eta --:--");
    }

    @Test
    void colourIsOnlyAddedWhenAsked() throws Exception {
        ProgressView coloured = new ProgressView(new Style(true), 80);
        JsonNode batch = batch("parallel", 1.0, counts(0, 0, 0, 1, 1, 0));
        assertThat(String.join("", coloured.frame(batch))).contains("\u001b[32m", "\u001b[31m");
        assertThat(String.join("", plain.frame(batch))).doesNotContain("\u001b[");
    }

    @Test
    void drawsEachPipelineAsAChainOfMarksUnfinishedOnesFirst() throws Exception {
        JsonNode batch = JSON.readTree("""
                {"name": "portraits", "mode": "parallel", "state": "running", "elapsed_sec": 4.0,
                 "status_counts": {"pending": 1, "running": 1, "retry": 0, "success": 2, "failed": 0, "cancelled": 1},
                 "groups": [],
                 "jobs": [{"key": "bio", "state": "success"}, {"key": "portrait", "state": "running"},
                          {"key": "look", "state": "success"}, {"key": "paint", "state": "cancelled"},
                          {"key": "frame", "state": "pending"}],
                 "chains": [["look", "paint"], ["bio", "portrait", "frame"]]}""");

        List<String> frame = plain.frame(batch);

        assertThat(frame.subList(frame.size() - 2, frame.size()))
                .containsExactly("  bio ✓ → portrait ▶ → frame ·", "  look ✓ → paint ⊘");
    }

    private static JsonNode batch(String mode, double elapsed, String counts, JsonNode... groups) throws Exception {
        StringBuilder g = new StringBuilder();
        for (JsonNode group : groups) {
            g.append(g.length() == 0 ? "" : ",").append(group);
        }
        JsonNode all = JSON.readTree(counts);
        long done = all.path("success").asLong() + all.path("failed").asLong() + all.path("cancelled").asLong();
        long total = 0;
        for (JsonNode n : all) {
            total += n.asLong();
        }
        String state = done == total ? "success" : "running";
        return JSON.readTree("{\"name\": \"roster\", \"mode\": \"" + mode + "\", \"state\": \"" + state
                + "\", \"elapsed_sec\": " + elapsed + ", \"status_counts\": " + counts + ", \"groups\": [" + g + "]}");
    }

    private static JsonNode group(int priority, String counts) throws Exception {
        return JSON.readTree("{\"priority\": " + priority + ", \"status_counts\": " + counts + "}");
    }

    private static String counts(int pending, int running, int retry, int success, int failed, int cancelled) {
        return "{\"pending\": " + pending + ", \"running\": " + running + ", \"retry\": " + retry + ", \"success\": "
                + success + ", \"failed\": " + failed + ", \"cancelled\": " + cancelled + "}";
    }
}
