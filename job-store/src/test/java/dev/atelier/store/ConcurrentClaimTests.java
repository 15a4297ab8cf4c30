package dev.atelier.store;

import static dev.atelier.store.testing.Batches.batch;
import static org.assertj.core.api.Assertions.assertThat;

import dev.atelier.store.testing.Batches;
import dev.atelier.store.testing.ThreadBoundDataSource;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Eight claimers, each on its own connection, claim and complete 5,000 jobs in batches of all three modes and
 * several batch priorities until none are left. Every claim is checked against what has committed so far.
 *
 * <p>The checker's view: a job counts as terminal once its completion committed; the commit and the mark happen
 * under one lock, so a claim that legally saw a job terminal always finds it marked. Claims are checked right after
 * they commit, so a gate breach is seen unless the job it jumped finishes within that instant.
 */
class ConcurrentClaimTests extends QueueTestBase {

    private static final int CLAIMERS = 8;

    /** What the checker knows of one batch. */
    private static final class BatchView {
        final BatchMode mode;
        final Map<Integer, Integer> openByGroup = new HashMap<>();
        int running;

        BatchView(BatchMode mode) {
            this.mode = mode;
        }
    }

    private final Object commitLock = new Object();
    private final Map<UUID, BatchView> batches = new HashMap<>();
    private final Set<UUID> claimedOnce = new HashSet<>();
    private final List<String> violations = new ArrayList<>();
    private final AtomicInteger completed = new AtomicInteger();

    @Test
    void everyJobIsClaimedOnceAndNoGateIsBroken() throws Exception {
        int[] batchPriorities = {0, 1, 1, 2, 5};
        int total = 0;
        int n = 0;
        // 12 priority batches of 5 groups x 30, 20 sequential batches of 40, 8 parallel batches of 300
        for (int i = 0; i < 12; i++, n++) {
            Batches b = batch(BatchMode.PRIORITY).priority(batchPriorities[n % batchPriorities.length]);
            for (int group = 1; group <= 5; group++) {
                b.ollamaJobs(30, 6 - group);
            }
            total += store(b);
        }
        for (int i = 0; i < 20; i++, n++) {
            Batches b = batch(BatchMode.SEQUENTIAL).priority(batchPriorities[n % batchPriorities.length]);
            b.ollamaJobs(20, 2).ollamaJobs(20, 1);
            total += store(b);
        }
        for (int i = 0; i < 8; i++, n++) {
            Batches b = batch(BatchMode.PARALLEL).priority(batchPriorities[n % batchPriorities.length]);
            b.ollamaJobs(150, 1).ollamaJobs(150, 3);
            total += store(b);
        }
        assertThat(total).isEqualTo(5_000);

        long started = System.nanoTime();
        ExecutorService pool = Executors.newFixedThreadPool(CLAIMERS);
        try (ThreadBoundDataSource ownConnections = new ThreadBoundDataSource(dataSource)) {
            JobClaims shared = new JobClaims(ownConnections);
            AttemptOutcomes sharedOutcomes = new AttemptOutcomes(ownConnections);
            List<Future<Integer>> claimers = new ArrayList<>();
            for (int i = 0; i < CLAIMERS; i++) {
                int claimer = i;
                claimers.add(pool.submit(() -> claimUntilEmpty(shared, sharedOutcomes, "executor-" + claimer, 5_000)));
            }
            int claims = 0;
            for (Future<Integer> f : claimers) {
                claims += f.get(5, TimeUnit.MINUTES);
            }
            double seconds = (System.nanoTime() - started) / 1e9;
            System.out.printf("concurrent claim: %d jobs by %d claimers on %d connections in %.1f s (%d claims, %.0f jobs/s)%n",
                    completed.get(), CLAIMERS, ownConnections.connectionsOpened(), seconds, claims, completed.get() / seconds);
            assertThat(ownConnections.connectionsOpened()).isEqualTo(CLAIMERS);
        } finally {
            pool.shutdownNow();
        }

        assertThat(violations).isEmpty();
        assertThat(claimedOnce).hasSize(5_000);
        assertThat(completed.get()).isEqualTo(5_000);
        assertThat(inspect.count("select count(*) from job where state = 'success'")).isEqualTo(5_000);
        assertThat(inspect.count("select count(*) from attempt where attempt = 1 and status = 'success'")).isEqualTo(5_000);
        assertThat(inspect.count("select count(distinct job_id) from ledger_line")).isEqualTo(5_000);
    }

    private int claimUntilEmpty(JobClaims shared, AttemptOutcomes sharedOutcomes, String executor, int totalJobs) throws InterruptedException {
        ThreadLocalRandom random = ThreadLocalRandom.current();
        int claims = 0;
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(4);
        while (completed.get() < totalJobs && System.nanoTime() < deadline) {
            List<ClaimedJob> claimed = shared.claim(executor, Map.of("ollama", 1 + random.nextInt(8)), MODELS,
                    Duration.ofMinutes(5), null);
            claims++;
            if (claimed.isEmpty()) {
                // the rest is gated behind jobs other claimers run
                Thread.sleep(1);
                continue;
            }
            synchronized (commitLock) {
                for (ClaimedJob job : claimed) {
                    checkClaim(job);
                }
            }
            if (random.nextInt(4) == 0) {
                Thread.sleep(random.nextInt(3));
            }
            synchronized (commitLock) {
                Map<UUID, JobState> moved = sharedOutcomes.finish(claimed.stream()
                        .map(j -> (AttemptOutcome) new AttemptOutcome.Success(j.id(), j.leaseToken(), "{\"text\": \"ok\"}"))
                        .toList(), null).moved();
                if (moved.size() != claimed.size()) {
                    violations.add(executor + " could not complete its own claim: " + moved);
                }
                for (ClaimedJob job : claimed) {
                    BatchView view = batches.get(job.batchId());
                    view.running--;
                    view.openByGroup.merge(job.priority(), -1, Integer::sum);
                }
                completed.addAndGet(moved.size());
            }
        }
        return claims;
    }

    private void checkClaim(ClaimedJob job) {
        if (!claimedOnce.add(job.id())) {
            violations.add("claimed twice: " + job.id());
        }
        BatchView view = batches.get(job.batchId());
        view.running++;
        if (view.mode == BatchMode.SEQUENTIAL && view.running > 1) {
            violations.add("sequential batch " + job.batchId() + " runs " + view.running + " jobs");
        }
        if (view.mode == BatchMode.PRIORITY) {
            view.openByGroup.forEach((group, open) -> {
                if (group < job.priority() && open > 0) {
                    violations.add("job of group " + job.priority() + " of batch " + job.batchId()
                            + " started while group " + group + " has " + open + " open jobs");
                }
            });
        }
    }

    private int store(Batches b) {
        NewBatch batch = b.build();
        BatchView view = new BatchView(batch.mode());
        batch.jobs().forEach(j -> view.openByGroup.merge(j.priority(), 1, Integer::sum));
        batches.put(batch.id(), view);
        intake.insertBatch(batch);
        return batch.jobs().size();
    }
}
