package dev.atelier.store;

import static dev.atelier.store.testing.Batches.batch;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** DESIGN.md, models: a model no live executor offers fails after the grace period; and the LISTEN wake-up. */
class ModelsAndExecutorsTests extends QueueTestBase {

    static final Duration GRACE = Duration.ofSeconds(60);
    static final Duration LIVE = Duration.ofSeconds(60);

    @Test
    void aModelNobodyOffersWaitsThenFailsAfterTheGracePeriodNamingIt() {
        Instant t0 = Instant.now();
        NewBatch b = batch(BatchMode.PARALLEL).jobs(1, 1, "ollama.generate", "llama9:70b")
                .jobs(1, 1, "ollama.generate", dev.atelier.store.testing.Batches.MODEL).build();
        intake.insertBatch(b);
        ExecutorRegistry registry = new ExecutorRegistry(dataSource);
        report(registry, t0);
        var missing = b.jobs().get(0).id();
        var offered = b.jobs().get(1).id();

        assertThat(sweeps.sweepUnservableModels(GRACE, LIVE, t0.plusSeconds(30))).containsOnlyKeys(missing);
        assertThat(inspect.job(missing).state()).isEqualTo("pending");
        assertThat(inspect.job(missing).waitingReason()).isEqualTo("no live executor offers model 'llama9:70b'");
        assertThat(sweeps.sweepUnservableModels(GRACE, LIVE, t0.plusSeconds(31)))
                .as("an unchanged reason is not written again").isEmpty();

        report(registry, t0.plusSeconds(61));
        assertThat(sweeps.sweepUnservableModels(GRACE, LIVE, t0.plusSeconds(61)))
                .containsExactly(Map.entry(missing, JobState.FAILED));
        assertThat(inspect.job(missing).error())
                .isEqualTo("model 'llama9:70b' not found on any executor (available: deepseek-r1:32b, qwen3:8b)");
        assertThat(inspect.ledgerStatuses(missing)).containsExactly("failed");
        assertThat(inspect.job(offered).state()).isEqualTo("pending");
    }

    @Test
    void nothingFailsWhileNoExecutorIsLive() {
        Instant t0 = Instant.now();
        NewBatch b = batch(BatchMode.PARALLEL).jobs(1, 1, "ollama.generate", "llama9:70b").build();
        intake.insertBatch(b);
        new ExecutorRegistry(dataSource).report("executor-gone", Map.of("ollama", 1), Map.of(), List.of(), t0);

        assertThat(sweeps.sweepUnservableModels(GRACE, LIVE, t0.plusSeconds(3600))).isEmpty();
        assertThat(inspect.job(b.jobs().get(0).id()).state()).isEqualTo("pending");
    }

    @Test
    void nothingFailsWhileNoLiveExecutorCanReachItsOllama() {
        Instant t0 = Instant.now();
        NewBatch b = batch(BatchMode.PARALLEL).jobs(1, 1, "ollama.generate", "llama9:70b").build();
        intake.insertBatch(b);
        ExecutorRegistry registry = new ExecutorRegistry(dataSource);
        for (Instant now : List.of(t0, t0.plusSeconds(3600))) {
            registry.report("executor-a", Map.of("ollama", 1), Map.of(), List.of(new ExecutorRegistry.BackendReport(
                    "ollama", "http://a:11434", "offline", List.of(), now, "refused")), now);
        }

        assertThat(sweeps.sweepUnservableModels(GRACE, LIVE, t0.plusSeconds(3600))).isEmpty();
        assertThat(inspect.job(b.jobs().get(0).id()).state()).isEqualTo("pending");
    }

    @Test
    void theGraceCountsFromTheFirstLiveExecutorsStart() {
        Instant t0 = Instant.now();
        NewBatch b = batch(BatchMode.PARALLEL).jobs(1, 1, "ollama.generate", "llama9:70b").build();
        intake.insertBatch(b);
        Instant later = t0.plusSeconds(600);
        ExecutorRegistry registry = new ExecutorRegistry(dataSource);
        report(registry, later);

        assertThat(sweeps.sweepUnservableModels(GRACE, LIVE, later.plusSeconds(59)).values())
                .containsExactly(JobState.PENDING);
        report(registry, later.plusSeconds(61));
        assertThat(sweeps.sweepUnservableModels(GRACE, LIVE, later.plusSeconds(61)).values())
                .containsExactly(JobState.FAILED);
    }

    @Test
    void aModelWhoseNameJavaAndTheDatabaseLowercaseDifferentlyIsOfferedAndClaimed() {
        // U+0130: Java's root locale lowercases it to "i" and a combining dot, glibc's towlower to "i", the C
        // locale not at all; jobs and executors' models are keyed by one rule (ModelNames), so it still matches
        Instant t0 = Instant.now();
        NewBatch b = batch(BatchMode.PARALLEL).jobs(1, 1, "ollama.generate", "\u0130ris:7b").build();
        intake.insertBatch(b);
        ExecutorRegistry registry = new ExecutorRegistry(dataSource);
        List<String> models = List.of("\u0130RIS:7B");
        for (Instant seen : List.of(t0, t0.plusSeconds(120))) {
            registry.report(EXECUTOR, Map.of("ollama", 1), Map.of("ollama", 0), List.of(
                    new ExecutorRegistry.BackendReport("ollama", "http://a:11434", "online", models, seen, null)), seen);
        }

        assertThat(sweeps.sweepUnservableModels(GRACE, LIVE, t0.plusSeconds(120))).as("offered: nothing to say").isEmpty();
        assertThat(inspect.job(b.jobs().get(0).id()).waitingReason()).isNull();
        assertThat(claims.claim(EXECUTOR, Map.of("ollama", 1), models, LEASE, null)).extracting(ClaimedJob::id)
                .containsExactly(b.jobs().get(0).id());
    }

    /** An executor whose Ollama has two models, seen at {@code now}. */
    private static void report(ExecutorRegistry registry, Instant now) {
        registry.report("executor-a", Map.of("ollama", 1), Map.of("ollama", 0), List.of(
                new ExecutorRegistry.BackendReport("ollama", "http://a:11434", "online",
                        List.of(dev.atelier.store.testing.Batches.MODEL, "qwen3:8b"), now, null)), now);
    }

    @Test
    void aListenerHearsSubmissionsAndCancelRequests() {
        try (QueueSignals signals = QueueSignals.open(dataSource)) {
            assertThat(signals.await(Duration.ofMillis(10))).isEmpty();
            NewBatch b = batch(BatchMode.PARALLEL).ollamaJobs(1, 1).build();
            intake.insertBatch(b);
            assertThat(signals.await(Duration.ofSeconds(5)))
                    .extracting(QueueSignals.Signal::channel).contains(QueueSignals.WORK_CHANNEL);

            ClaimedJob running = claimOllama(1).get(0);
            control.cancelJob(running.id(), null);
            assertThat(signals.await(Duration.ofSeconds(5)))
                    .contains(new QueueSignals.Signal(QueueSignals.CANCEL_CHANNEL, running.id().toString()));
        }
    }

    @Test
    void anExecutorPublishesTheModelsItsOllamaHasLoadedAndTheLedgerReadsThemBack() {
        Instant until = Instant.parse("2026-12-04T12:05:00Z");
        ExecutorRegistry registry = new ExecutorRegistry(dataSource);
        registry.report("executor-a", Map.of("ollama", 2), Map.of("ollama", 1), List.of(
                new ExecutorRegistry.BackendReport("ollama", "http://a:11434", "online",
                        List.of("deepseek-r1:32b", "llama3.2:latest"), until, "", List.of(
                        new ExecutorRegistry.LoadedModel("deepseek-r1:32b", 21_474_836_480L, until),
                        new ExecutorRegistry.LoadedModel("llama3.2:latest", 0, null)), List.of())), null);

        ExecutorRegistry.Backend backend = registry.live(LIVE, null).get(0).backend("ollama").orElseThrow();
        assertThat(backend.loaded()).containsExactly(
                new ExecutorRegistry.LoadedModel("deepseek-r1:32b", 21_474_836_480L, until),
                new ExecutorRegistry.LoadedModel("llama3.2:latest", 0, null));

        // the next report replaces them: the model was unloaded
        registry.report("executor-a", Map.of("ollama", 2), Map.of("ollama", 0), List.of(
                new ExecutorRegistry.BackendReport("ollama", "http://a:11434", "online", List.of("deepseek-r1:32b"),
                        until, "")), null);
        assertThat(registry.live(LIVE, null).get(0).backend("ollama").orElseThrow().loaded()).isEmpty();
    }
    @Test
    void aModelEveryLiveExecutorThatHasItRefusesToLoadFailsItsJobsAtOnceWithTheBackendsWords() {
        Instant t0 = Instant.now();
        NewBatch b = batch(BatchMode.PARALLEL).jobs(1, 1, "ollama.generate", "deepseek-r1:32b")
                .jobs(1, 1, "ollama.generate", "qwen3:8b").build();
        intake.insertBatch(b);
        UUID big = b.jobs().get(0).id();
        UUID small = b.jobs().get(1).id();
        ExecutorRegistry registry = new ExecutorRegistry(dataSource);
        String noRoom = "model requires more system memory (21.5 GiB) than is available (15.2 GiB)";
        reportRefusing(registry, "executor-small", "online", List.of(noRoom), t0);
        reportRefusing(registry, "executor-big", "online", List.of(), t0);

        assertThat(sweeps.sweepUnservableModels(GRACE, LIVE, t0)).as("the big box may still load it").isEmpty();

        // the big box goes offline: it judges nothing; then it refuses too
        reportRefusing(registry, "executor-big", "offline", List.of(), t0);
        assertThat(sweeps.sweepUnservableModels(GRACE, LIVE, t0)).containsExactly(Map.entry(big, JobState.FAILED));
        assertThat(inspect.job(big).error())
                .isEqualTo("model 'deepseek-r1:32b' cannot be loaded on any live executor: " + noRoom);
        assertThat(inspect.attempts(big)).isEmpty();
        assertThat(inspect.job(small).state()).isEqualTo("pending");
    }

    private static void reportRefusing(ExecutorRegistry registry, String id, String status, List<String> reasons,
                                       Instant now) {
        registry.report(id, Map.of("ollama", 1), Map.of("ollama", 0), List.of(new ExecutorRegistry.BackendReport(
                "ollama", "http://" + id + ":11434", status, List.of("deepseek-r1:32b", "qwen3:8b"), now, "",
                List.of(), reasons.stream().map(r -> new ExecutorRegistry.RefusedModel("DeepSeek-R1:32b", r)).toList())),
                now);
    }
}
