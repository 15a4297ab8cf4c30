package dev.atelier.executor.service;

import dev.atelier.executor.backend.BackendState;
import dev.atelier.store.AttemptOutcomes;
import dev.atelier.store.JobClaims;
import dev.atelier.store.JobControl;
import dev.atelier.store.JobIntake;
import dev.atelier.store.NewBatch;
import dev.atelier.store.QueueSweeps;
import dev.atelier.store.testing.Batches;
import dev.atelier.store.testing.Inspect;
import dev.atelier.store.testing.TestPostgres;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import javax.sql.DataSource;

/**
 * One executor's loops, wired as in production ({@link Lifecycle#assemble}) on a fresh database of the test
 * PostgreSQL, with an Ollama runner the test scripts, health checks it sets, and a clock it moves. Nothing runs on
 * its own: tests call each loop's {@code runOnce()} (or start the {@link Lifecycle}).
 */
final class LoopFixture implements AutoCloseable {

    static final Duration LEASE = Duration.ofSeconds(30);
    static final String EXECUTOR = "executor-a";

    final TestPostgres.Database database;
    final DataSource dataSource;
    final JobIntake intake;
    final JobClaims claims;
    final AttemptOutcomes outcomes;
    final QueueSweeps sweeps;
    final JobControl control;
    final Inspect inspect;
    final MutableClock clock = new MutableClock(Instant.now());
    final ScriptedRunner runner = new ScriptedRunner("ollama");
    /** Runs workflows when the fixture has ComfyUI slots. */
    final ScriptedRunner comfyRunner = new ScriptedRunner("comfyui");
    final Backends backends;
    /** What the table's health checks answer. */
    final SettableChecks checks = new SettableChecks();
    final AttemptTable table;
    final List<String> ended = new ArrayList<>();
    /** What the claim loop's listener was told, as "sought -> got", with " outrun" when it was. */
    final List<String> claimsSeen = new java.util.concurrent.CopyOnWriteArrayList<>();
    /** Where the claim loop LISTENs; null: the pool, as usual. */
    DataSource listenSource;
    Lifecycle.Parts parts;
    Lifecycle lifecycle;

    /** Two Ollama slots, no ComfyUI. */
    LoopFixture() {
        this(Map.of("ollama", 2));
    }

    LoopFixture(Map<String, Integer> slots) {
        backends = new Backends(EXECUTOR, slots, Map.of("ollama", "http://ollama.test", "comfyui", "http://comfyui.test"));
        database = TestPostgres.get().newDatabase();
        dataSource = database.dataSource();
        intake = new JobIntake(dataSource);
        claims = new JobClaims(dataSource);
        outcomes = new AttemptOutcomes(dataSource);
        sweeps = new QueueSweeps(dataSource);
        control = new JobControl(dataSource);
        inspect = new Inspect(dataSource);
        // its Ollama has the jobs' model loaded already (ClaimLoopTests look at a cold one)
        backends.state("ollama").checked(BackendState.Status.ONLINE, List.of(Batches.MODEL),
                List.of(new dev.atelier.store.ExecutorRegistry.LoadedModel(Batches.MODEL, 1L << 30, null)),
                clock.instant(), "test");
        backends.state("comfyui").checked(BackendState.Status.ONLINE, List.of(), List.of(), clock.instant(), "test");
        table = new AttemptTable(backends, checks, new AttemptTable.Settings(Map.of("ollama", Duration.ofSeconds(5)), 3,
                Duration.ofMinutes(10)), clock, ScriptedRunner.JSON);
    }

    /**
     * Heartbeats and maintenance every hour: a started {@link Lifecycle} makes its one heartbeat at start and leaves
     * the rest to the test. The claim loop polls every 200 ms.
     */
    static Lifecycle.Settings settings(Duration shutdownGrace) {
        return new Lifecycle.Settings(LEASE, Duration.ofHours(1), Duration.ofMillis(200), Duration.ofHours(1),
                Duration.ofSeconds(60), shutdownGrace, Duration.ofMinutes(2), Duration.ofDays(1), null, null);
    }

    /** Wires the loops over {@code pool}, with renewals over {@code heartbeatSource}. */
    LoopFixture wire(DataSource pool, DataSource heartbeatSource, Duration shutdownGrace) {
        parts = Lifecycle.assemble(pool, heartbeatSource, listenSource != null ? listenSource : pool, backends, runners(), table,
                settings(shutdownGrace), clock, (job, finished, took) -> {
                    synchronized (ended) {
                        ended.add(finished.getClass().getSimpleName());
                    }
                }, (took, sought, got, outrun) -> claimsSeen.add(sought + " -> " + got + (outrun ? " outrun" : "")),
                (what, rows) -> { }, dev.atelier.store.BlobStorage.inPostgres());
        lifecycle = new Lifecycle(parts, settings(shutdownGrace), () -> { },
                () -> new dev.atelier.store.ExecutorRegistry(dataSource).remove(EXECUTOR));
        return this;
    }

    private Map<String, JobRunner> runners() {
        return backends.slots().getOrDefault("comfyui", 0) > 0 ? Map.of("ollama", runner, "comfyui", comfyRunner)
                : Map.of("ollama", runner);
    }

    LoopFixture wire() {
        return wire(dataSource, dataSource, Duration.ofSeconds(5));
    }

    /** Stores a batch of {@code count} Ollama jobs (parallel, 3 attempts, no backoff) and returns their ids. */
    List<UUID> submit(int count) {
        NewBatch batch = Batches.batch(dev.atelier.store.BatchMode.PARALLEL).retry(3, Duration.ZERO, 1.0)
                .ollamaJobs(count, 1).build();
        intake.insertBatch(batch);
        return batch.jobs().stream().map(NewBatch.NewJob::id).toList();
    }

    String state(UUID job) {
        return inspect.job(job).state();
    }

    @Override
    public void close() throws Exception {
        runner.release.countDown();
        comfyRunner.release.countDown();
        if (lifecycle != null) {
            lifecycle.stop();
        }
        if (parts != null) {
            parts.running().close();
            parts.completer().drainAndStop(Duration.ZERO);
        }
    }
}
