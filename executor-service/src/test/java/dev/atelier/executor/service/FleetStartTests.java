package dev.atelier.executor.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.atelier.executor.backend.BackendState;
import dev.atelier.store.BatchMode;
import dev.atelier.store.BlobStorage;
import dev.atelier.store.ExecutorRegistry;
import dev.atelier.store.JobIntake;
import dev.atelier.store.NewBatch;
import dev.atelier.store.testing.Batches;
import dev.atelier.store.testing.Inspect;
import dev.atelier.store.testing.TestPostgres;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A fleet starting together (#23): 16 executors' loops, wired as in production with the default poll, lease and
 * heartbeat, in this JVM on one database, each with one Ollama slot. Every one of them must be running a job within
 * one poll interval of the batch's arrival: an executor that lost the race for the batch's head jobs claims the next
 * in line, or looks again at once, rather than sleeping a poll while work waits.
 */
class FleetStartTests {

    private static final int EXECUTORS = 16;
    private static final Duration POLL = Duration.ofSeconds(2);

    private final TestPostgres.Database database = TestPostgres.get().newDatabase();
    private final DataSource dataSource = database.dataSource();
    private final Inspect inspect = new Inspect(dataSource);
    private final List<Lifecycle> fleet = new ArrayList<>();
    private final List<Lifecycle.Parts> parts = new ArrayList<>();

    @AfterEach
    void stopTheFleet() throws InterruptedException {
        for (Lifecycle executor : fleet) {
            executor.stop();
        }
        parts.forEach(p -> p.running().close());
    }

    @Test
    void sixteenExecutorsStartingTogetherEachRunAJobWithinOnePollOfTheBatchsArrival() {
        Map<String, Long> firstStart = new ConcurrentHashMap<>();
        for (int i = 0; i < EXECUTORS; i++) {
            start("executor-" + i, firstStart);
        }
        // every executor has reported and listens, so all are asleep waiting for work, as a fleet is between batches
        await().atMost(Duration.ofSeconds(30)).until(() -> inspect.count("select count(*) from executor") == EXECUTORS
                && inspect.count("select count(*) from pg_stat_activity where datname = current_database()"
                        + " and query like 'listen %'") == EXECUTORS);

        NewBatch batch = Batches.batch(BatchMode.PARALLEL).ollamaJobs(EXECUTORS * 10, 1).build();
        new JobIntake(dataSource).insertBatch(batch);
        long arrived = System.nanoTime();

        await().atMost(POLL.multipliedBy(3)).until(() -> firstStart.size() == EXECUTORS);
        Map<String, Duration> late = new java.util.TreeMap<>();
        firstStart.forEach((executor, at) -> {
            Duration after = Duration.ofNanos(at - arrived);
            if (after.compareTo(POLL) >= 0) {
                late.put(executor, after);
            }
        });
        assertThat(late).as("executors whose first job started a poll or more after the batch arrived").isEmpty();
        assertThat(fleet).as("each woken by NOTIFY").allMatch(Lifecycle::listening);
        assertThat(inspect.count("select count(*) from job where state = 'running'"))
                .as("one job per slot, no more").isEqualTo(EXECUTORS);
    }

    private void start(String executorId, Map<String, Long> firstStart) {
        Clock clock = Clock.systemUTC();
        Backends backends = new Backends(executorId, Map.of("ollama", 1), Map.of("ollama", "http://ollama.test"));
        backends.state("ollama").checked(BackendState.Status.ONLINE, List.of(Batches.MODEL),
                List.of(new ExecutorRegistry.LoadedModel(Batches.MODEL, 1L << 30, null)), clock.instant(), "test");
        AttemptTable table = new AttemptTable(backends, new SettableChecks(), new AttemptTable.Settings(
                Map.of("ollama", Duration.ofSeconds(5)), 3, Duration.ofMinutes(10)), clock, ScriptedRunner.JSON);
        ScriptedRunner runner = new ScriptedRunner("ollama");
        runner.script((job, control) -> {
            firstStart.putIfAbsent(executorId, System.nanoTime());
            while (control.stopped() == null) {
                Thread.sleep(10);
            }
            throw new java.util.concurrent.CancellationException("stopped");
        });
        // the executor's defaults: 30 s lease, 10 s heartbeat, 2 s poll
        Lifecycle.Settings settings = new Lifecycle.Settings(Duration.ofSeconds(30), Duration.ofSeconds(10), POLL,
                Duration.ofHours(1), Duration.ofSeconds(60), Duration.ofMillis(100), Duration.ofMinutes(2),
                Duration.ofDays(1), null, null);
        Lifecycle.Parts wired = Lifecycle.assemble(dataSource, dataSource, dataSource, backends, Map.of("ollama", runner),
                table, settings, clock, (job, finished, took) -> { }, (took, sought, got, outrun) -> { }, (what, rows) -> { }, BlobStorage.inPostgres());
        Lifecycle executor = new Lifecycle(wired, settings, () -> { }, () -> new ExecutorRegistry(dataSource)
                .remove(executorId));
        parts.add(wired);
        fleet.add(executor);
        executor.start();
    }
}
