package dev.atelier.executor.service;

import static org.assertj.core.api.Assertions.assertThat;

import dev.atelier.store.AttemptOutcome;
import dev.atelier.store.Artifacts;
import dev.atelier.store.BatchDeletion;
import dev.atelier.store.ClaimedJob;
import dev.atelier.store.ExecutorRegistry;
import dev.atelier.store.ExportLog;
import dev.atelier.store.JobCounts;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link Maintenance}: each named task runs every round whatever the others do, and reaping waits until the
 * database has answered long enough.
 */
class MaintenanceTests {

    LoopFixture fixture = new LoopFixture();
    AtomicBoolean settled = new AtomicBoolean(true);

    @AfterEach
    void tearDown() throws Exception {
        fixture.close();
    }

    private final Map<String, Long> removed = new java.util.concurrent.ConcurrentHashMap<>();

    private List<Maintenance.Task> standardTasks() {
        return standardTasks(null);
    }

    private List<Maintenance.Task> standardTasks(Duration keepBatches) {
        return Maintenance.standardTasks(fixture.sweeps, new JobCounts(fixture.dataSource), new ExportLog(fixture.dataSource),
                new ExecutorRegistry(fixture.dataSource), new BatchDeletion(fixture.dataSource),
                new Artifacts(fixture.dataSource), new Maintenance.Settings(Duration.ofSeconds(60), LoopFixture.LEASE.multipliedBy(2), Duration.ofDays(1),
                        keepBatches, keepBatches),
                settled::get, (what, rows) -> removed.merge(what, rows, Long::sum), fixture.clock);
    }

    /** One job whose lease ran out, and one finished job whose export line waits for its number. */
    private UUID[] expiredAndFinished() {
        List<UUID> ids = fixture.submit(2);
        List<ClaimedJob> held = fixture.claims.claim("executor-gone", Map.of("ollama", 2),
                List.of(dev.atelier.store.testing.Batches.MODEL), LoopFixture.LEASE, null);
        ClaimedJob finished = held.stream().filter(j -> j.id().equals(ids.get(1))).findFirst().orElseThrow();
        fixture.outcomes.finish(List.of(new AttemptOutcome.Success(finished.id(), finished.leaseToken(), "{\"text\": \"ok\"}")), null);
        fixture.inspect.execute("update job set lease_expires_at = now() - interval '1 second' where id = ?", ids.get(0));
        return new UUID[] {ids.get(0), ids.get(1)};
    }

    @Test
    void aTaskThatFailsDoesNotStopTheOthers() {
        UUID[] jobs = expiredAndFinished();
        // numbering breaks (as a bug or a lock would break it), and a task before all of them throws
        fixture.inspect.execute("alter function number_export_lines(integer) rename to number_export_lines_broken");
        List<Maintenance.Task> tasks = new ArrayList<>();
        tasks.add(new Maintenance.Task("explodes", () -> {
            throw new IllegalStateException("boom");
        }));
        tasks.addAll(standardTasks());
        long deltasBefore = fixture.inspect.count("select count(*) from job_count_delta");
        assertThat(deltasBefore).isPositive();

        List<String> failed = new Maintenance(tasks).runOnce();

        assertThat(failed).containsExactly("explodes", "number new export lines");
        assertThat(fixture.state(jobs[0])).as("reaped after all").isEqualTo("retry");
        assertThat(fixture.inspect.count("select count(*) from job_count_delta")).as("folded after all").isZero();

        fixture.inspect.execute("alter function number_export_lines_broken(integer) rename to number_export_lines");
        assertThat(new Maintenance(standardTasks()).runOnce()).isEmpty();
        assertThat(fixture.inspect.count("select count(*) from ledger_line where seq is null")).isZero();
        assertThat(fixture.inspect.ledgerStatuses(jobs[1])).containsExactly("success");
    }

    @Test
    void reapingWaitsUntilTheDatabaseHasAnsweredLongEnough() {
        UUID[] jobs = expiredAndFinished();
        settled.set(false);
        Maintenance maintenance = new Maintenance(standardTasks());

        assertThat(maintenance.runOnce()).isEmpty();
        assertThat(fixture.state(jobs[0])).isEqualTo("running");

        settled.set(true);
        maintenance.runOnce();
        assertThat(fixture.state(jobs[0])).isEqualTo("retry");
    }

    @Test
    void executorRowsStayFewThroughARestartLoop() {
        ExecutorRegistry registry = new ExecutorRegistry(fixture.dataSource);
        Instant now = Instant.now();
        List<ExecutorRegistry.BackendReport> ollama = List.of(new ExecutorRegistry.BackendReport("ollama",
                "http://ollama:11434", "online", List.of("llama3.2"), now, null));
        // a pod with a stable name (Kubernetes: the pod's) that crashes and restarts keeps one row; a clean stop
        // removes it at once
        for (int restart = 0; restart < 5; restart++) {
            registry.report("executor-0", Map.of("ollama", 4), Map.of("ollama", 0), ollama, now);
        }
        assertThat(fixture.inspect.count("select count(*) from executor where id = 'executor-0'")).isEqualTo(1);
        // hosts without one get a new name on every start; those killed long ago never removed themselves
        for (int start = 0; start < 20; start++) {
            registry.report("host-" + start, Map.of("ollama", 4), Map.of("ollama", 0), ollama,
                    now.minus(Duration.ofHours(25 + start)));
        }
        registry.report("host-silent-23h", Map.of("ollama", 4), Map.of("ollama", 0), ollama,
                now.minus(Duration.ofHours(23)));
        registry.report("host-gone", Map.of("ollama", 4), Map.of("ollama", 0), ollama, now);
        registry.remove("host-gone");

        assertThat(new Maintenance(standardTasks()).runOnce()).isEmpty();

        assertThat(fixture.inspect.count("select count(*) from executor where id like 'host-%'"))
                .as("only the one silent for less than a day").isEqualTo(1);
        assertThat(fixture.inspect.count("select count(*) from executor where id = 'host-silent-23h'")).isEqualTo(1);
        assertThat(fixture.inspect.count("select count(*) from executor where id = 'executor-0'")).isEqualTo(1);
        assertThat(fixture.inspect.count("select count(*) from executor_backend where executor_id like 'host-%'"))
                .as("backends go with their executor").isEqualTo(1);
        assertThat(removed).containsEntry("executors", 20L);
    }

    @Test
    void retentionRunsOnlyWhenSetAndCountsWhatItRemoved() {
        UUID job = fixture.submit(1).get(0);
        List<ClaimedJob> held = fixture.claims.claim("executor-a", Map.of("ollama", 1),
                List.of(dev.atelier.store.testing.Batches.MODEL), LoopFixture.LEASE, null);
        fixture.outcomes.finish(List.of(new AttemptOutcome.Success(job, held.get(0).leaseToken(), "{\"text\": \"ok\"}")), null);
        UUID finishedBatch = held.get(0).batchId();
        new JobCounts(fixture.dataSource).compact(); // settles the batch as finished
        fixture.inspect.execute("update batch set finished_at = now() - interval '100 days' where id = ?", finishedBatch);

        assertThat(new Maintenance(standardTasks()).runOnce()).isEmpty();
        assertThat(fixture.inspect.count("select count(*) from batch where id = '" + finishedBatch + "'"))
                .as("retention unset: kept").isEqualTo(1);

        assertThat(new Maintenance(standardTasks(Duration.ofDays(90))).runOnce()).isEmpty();
        assertThat(fixture.inspect.count("select count(*) from batch where id = '" + finishedBatch + "'")).isZero();
        assertThat(removed).containsEntry("batches", 1L).containsKey("export_lines");
    }

    @Test
    void blobsNothingUsesAreCollectedAtOnceThenEveryTenMinutes() {
        Maintenance maintenance = new Maintenance(standardTasks());
        assertThat(maintenance.runOnce()).isEmpty();
        byte[] left = "pixels a failed collection left".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        fixture.inspect.execute("insert into artifact_blob (sha256, size, data) values (?, ?, ?)",
                java.util.HexFormat.of().formatHex(sha256(left)), (long) left.length, left);

        maintenance.runOnce();
        assertThat(fixture.inspect.count("select count(*) from artifact_blob")).as("not due yet").isEqualTo(1);
        fixture.clock.advance(Maintenance.ORPHAN_SWEEP_EVERY);
        maintenance.runOnce();
        assertThat(fixture.inspect.count("select count(*) from artifact_blob")).isZero();
        assertThat(removed).containsEntry("blobs", 1L);
    }

    private static byte[] sha256(byte[] data) {
        try {
            return java.security.MessageDigest.getInstance("SHA-256").digest(data);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
