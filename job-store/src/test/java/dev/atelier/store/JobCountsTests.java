package dev.atelier.store;

import static dev.atelier.store.testing.Batches.batch;
import static org.assertj.core.api.Assertions.assertThat;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The counters the ledger reads always equal a count over the job table, before and after compaction. */
class JobCountsTests extends QueueTestBase {

    JobCounts counts;

    @BeforeEach
    void counters() {
        counts = new JobCounts(dataSource);
    }

    /** The truth: a count over the job table, by priority, kind and state. */
    private Map<String, Long> counted() throws Exception {
        Map<String, Long> byGroup = new HashMap<>();
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("select priority, kind, state, count(*) from job group by 1, 2, 3");
             ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                byGroup.put(rs.getInt(1) + "/" + rs.getString(2) + "/" + rs.getString(3), rs.getLong(4));
            }
        }
        return byGroup;
    }

    private Map<String, Long> kept() {
        Map<String, Long> byGroup = new HashMap<>();
        for (JobCounts.GroupCount g : counts.byGroup()) {
            byGroup.put(g.priority() + "/" + g.kind() + "/" + g.state().wire(), g.jobs());
        }
        return byGroup;
    }

    private void assertCountsAgree(String when) throws Exception {
        assertThat(kept()).as(when).isEqualTo(counted());
        counts.compact();
        assertThat(kept()).as(when + ", after compaction").isEqualTo(counted());
        assertThat(inspect.count("select count(*) from job_count_delta")).as("compaction folds every delta").isZero();
    }

    @Test
    void everyKindOfChangeKeepsTheCountsExact() throws Exception {
        intake.insertBatch(batch(BatchMode.PARALLEL).retry(2, Duration.ZERO, 1.0).ollamaJobs(6, 1).ollamaJobs(4, 2)
                .jobs(2, 1, "comfyui.workflow", null).build());
        NewBatch second = batch(BatchMode.PRIORITY).labels("{\"project\": \"mk1\"}").ollamaJobs(5, 1).build();
        intake.insertBatch(second);
        assertCountsAgree("stored");

        List<ClaimedJob> claimed = claimOllama(8);
        assertCountsAgree("claimed");
        succeed(claimed.subList(0, 3));
        failForGood(claimed.subList(3, 4));
        outcomes.finish(List.of(new AttemptOutcome.Failure(claimed.get(4).id(), claimed.get(4).leaseToken(), "HTTP 500", true),
                new AttemptOutcome.HandBack(claimed.get(5).id(), claimed.get(5).leaseToken(), "ollama offline")), null);
        assertCountsAgree("finished");
        outcomes.heartbeat(List.of(claimed.get(6).leaseToken(), claimed.get(7).leaseToken()), LEASE, null);
        assertCountsAgree("heartbeat (no state change)");
        control.cancelBatch(second.id(), null);
        assertCountsAgree("cancelled");
        control.retryJob(claimed.get(3).id());
        assertCountsAgree("retried by hand");

        assertThat(counts.byState(second.id(), Map.of()).values().stream().mapToLong(Long::longValue).sum()).isEqualTo(5);
        assertThat(counts.byState(null, Map.of("project", "mk1"))).containsEntry(JobState.CANCELLED,
                inspect.count("select count(*) from job where batch_id = '" + second.id() + "' and state = 'cancelled'"));
        assertThat(counts.byState(null, Map.of("project", "other")).values()).allMatch(n -> n == 0);
        assertThat(inspect.count("select count(*) from job_count where jobs = 0")).as("zeros are dropped").isZero();
    }

    @Test
    void concurrentClaimersCompletersAndCompactorsNeverLoseACount() throws Exception {
        for (int b = 0; b < 10; b++) {
            intake.insertBatch(batch(BatchMode.PARALLEL).ollamaJobs(50, b % 3).build());
        }
        AtomicBoolean done = new AtomicBoolean();
        ExecutorService pool = Executors.newFixedThreadPool(5);
        List<Future<?>> workers = new ArrayList<>();
        for (int w = 0; w < 4; w++) {
            String executor = "executor-" + w;
            workers.add(pool.submit(() -> {
                List<ClaimedJob> jobs;
                while (!(jobs = claims.claim(executor, Map.of("ollama", 7), MODELS, LEASE, null)).isEmpty()) {
                    succeed(jobs);
                }
                return null;
            }));
        }
        Future<?> compactor = pool.submit(() -> {
            while (!done.get()) {
                counts.compact();
            }
            return null;
        });
        for (Future<?> worker : workers) {
            worker.get(60, TimeUnit.SECONDS);
        }
        done.set(true);
        compactor.get(10, TimeUnit.SECONDS);
        pool.shutdown();

        assertThat(inspect.count("select count(*) from job where state = 'success'")).isEqualTo(500);
        assertCountsAgree("after the run");
    }

    @Test
    void deletingABatchTakesItsCountsAlong() throws Exception {
        NewBatch gone = batch(BatchMode.PARALLEL).ollamaJobs(3, 1).build();
        intake.insertBatch(gone);
        intake.insertBatch(batch(BatchMode.PARALLEL).ollamaJobs(2, 1).build());
        counts.compact();
        inspect.execute("delete from batch where id = ?", gone.id());
        assertCountsAgree("deleted");
        assertThat(counts.byState(gone.id(), Map.of()).values()).allMatch(n -> n == 0);
        assertThat(counts.byState(null, Map.<String, String>of()).get(JobState.PENDING)).isEqualTo(2);
    }
}
