package dev.atelier.store;

import static dev.atelier.store.testing.Batches.batch;
import static org.assertj.core.api.Assertions.assertThat;

import dev.atelier.store.History.Point;
import dev.atelier.store.History.Series;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** The dashboard's history: what one sample records, that a minute is sampled once, and that old points go. */
class HistoryTests extends QueueTestBase {

    private static final Duration LIVE = Duration.ofSeconds(60);
    private static final Duration KEEP = Duration.ofDays(7);

    private Map<String, Double> values(History history, Series series, Instant at) {
        return history.read(at, at).stream().filter(p -> p.series() == series)
                .collect(Collectors.toMap(Point::label, Point::value));
    }

    @Test
    void aSampleCountsTheMinutesFinishedJobsTheQueueByKindAndEachLiveExecutorsBusySlots() {
        History history = new History(dataSource);
        ExecutorRegistry executors = new ExecutorRegistry(dataSource);
        intake.insertBatch(batch(BatchMode.PARALLEL).retry(1, Duration.ZERO, 1.0).ollamaJobs(5, 1)
                .jobs(2, 1, "comfyui.workflow", null).build());
        List<ClaimedJob> claimed = claimOllama(3);
        succeed(claimed.subList(0, 1));
        failForGood(claimed.subList(1, 2));
        new JobCounts(dataSource).compact();
        // the sample after the minute the jobs ended in
        // (both lines in one minute, even when a minute ended between the two outcomes)
        inspect.execute("update ledger_line set occurred_at = (select min(occurred_at) from ledger_line)");
        Instant minute = inspect.instant("select min(occurred_at) from ledger_line").truncatedTo(ChronoUnit.MINUTES);
        Instant sampled = minute.plus(Duration.ofSeconds(61));
        // reported within LIVE of the sample: reported at the jobs' end, an executor whose jobs ended in a minute's
        // first second was not live 61 s after the minute began (CI once counted 6 rows)
        executors.report(EXECUTOR, Map.of("ollama", 4, "comfyui", 0), Map.of("ollama", 1), List.of(),
                sampled.minusSeconds(30));
        executors.report("executor-gone", Map.of("ollama", 4), Map.of("ollama", 4), List.of(),
                sampled.minus(Duration.ofHours(1)));
        int written = history.sample(sampled, LIVE, KEEP);
        assertThat(written).isEqualTo(3 + 2 + 1 + 1); // finished ×3, waiting ×2 kinds, running ×1 kind, 1 live executor

        assertThat(values(history, Series.FINISHED, minute)).containsExactlyInAnyOrderEntriesOf(
                Map.of("success", 1.0, "failed", 1.0, "cancelled", 0.0));
        assertThat(values(history, Series.WAITING, minute)).containsExactlyInAnyOrderEntriesOf(
                Map.of("ollama", 2.0, "comfyui", 2.0));
        assertThat(values(history, Series.RUNNING, minute)).containsExactlyInAnyOrderEntriesOf(Map.of("ollama", 1.0));
        assertThat(values(history, Series.UTILISATION, minute)).as("only live executors; busy over all its slots")
                .containsExactlyInAnyOrderEntriesOf(Map.of(EXECUTOR, 0.25));

        // a second ledger replica sampling the same minute changes nothing
        succeed(claimed.subList(2, 3));
        assertThat(history.sample(minute.plus(Duration.ofSeconds(75)), LIVE, KEEP)).isZero();
        assertThat(values(history, Series.FINISHED, minute)).containsEntry("success", 1.0);

        // the next minute's finished count holds only that minute's lines
        Instant later = minute.plus(Duration.ofMinutes(1));
        history.sample(later.plus(Duration.ofSeconds(61)), LIVE, KEEP);
        assertThat(values(history, Series.FINISHED, later)).containsEntry("success", 0.0);
    }

    @Test
    void pointsOlderThanTheyAreKeptAreForgotten() {
        History history = new History(dataSource);
        Instant now = Instant.now().truncatedTo(ChronoUnit.MINUTES);
        history.sample(now.minus(Duration.ofHours(3)), LIVE, KEEP);
        history.sample(now.minus(Duration.ofHours(1)), LIVE, KEEP);
        assertThat(history.read(now.minus(Duration.ofDays(1)), now)).extracting(Point::at).hasSize(6);

        history.sample(now, LIVE, Duration.ofHours(2));
        assertThat(history.read(now.minus(Duration.ofDays(1)), now)).extracting(Point::at)
                .allSatisfy(at -> assertThat(at).isAfter(now.minus(Duration.ofHours(2))));
    }
}
