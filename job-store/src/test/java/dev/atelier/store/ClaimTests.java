package dev.atelier.store;

import static dev.atelier.store.testing.Batches.batch;
import static org.assertj.core.api.Assertions.assertThat;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** The claim's ordering, its gates and its filters (DESIGN.md, ordering and models). */
class ClaimTests extends QueueTestBase {

    @Test
    void claimsByBatchPriorityThenJobPriorityThenPosition() {
        NewBatch later = batch(BatchMode.PARALLEL).priority(5).ollamaJobs(2, 1).build();
        NewBatch urgent = batch(BatchMode.PARALLEL).priority(0).ollamaJobs(1, 2).ollamaJobs(1, 1).build();
        intake.insertBatch(later);
        intake.insertBatch(urgent);

        List<String> order = List.of(
                only(claimOllama(1)), only(claimOllama(1)), only(claimOllama(1)), only(claimOllama(1)));

        assertThat(order).containsExactly(
                urgent.jobs().get(1).key() + "@" + urgent.id(), urgent.jobs().get(0).key() + "@" + urgent.id(),
                later.jobs().get(0).key() + "@" + later.id(), later.jobs().get(1).key() + "@" + later.id());
    }

    @Test
    void priorityModeOpensAGroupOnlyWhenEveryLowerJobIsTerminal() {
        NewBatch b = batch(BatchMode.PRIORITY).ollamaJobs(2, 1).ollamaJobs(2, 2).build();
        intake.insertBatch(b);

        List<ClaimedJob> first = claimOllama(10);
        assertThat(first).extracting(ClaimedJob::priority).containsExactly(1, 1);

        succeed(first.subList(0, 1));
        assertThat(claimOllama(10)).as("one job of group 1 still runs").isEmpty();

        failForGood(first.subList(1, 2));
        assertThat(claimOllama(10)).as("failed counts as terminal")
                .extracting(ClaimedJob::priority).containsExactly(2, 2);
    }

    @Test
    void sequentialModeRunsOneJobAtATimeInOrder() {
        NewBatch b = batch(BatchMode.SEQUENTIAL).ollamaJobs(1, 2).ollamaJobs(2, 1).build();
        intake.insertBatch(b);

        for (String expected : List.of("job-1", "job-2", "job-0")) {
            List<ClaimedJob> claimed = claimOllama(10);
            assertThat(claimed).extracting(ClaimedJob::key).containsExactly(expected);
            assertThat(claimOllama(10)).isEmpty();
            succeed(claimed);
        }
        assertThat(claimOllama(10)).isEmpty();
    }

    @Test
    void aSequentialJobRetriedByHandWaitsForTheRunningOne() {
        NewBatch b = batch(BatchMode.SEQUENTIAL).ollamaJobs(3, 1).build();
        intake.insertBatch(b);
        ClaimedJob first = claimOllama(5).get(0);
        failForGood(List.of(first));
        ClaimedJob second = claimOllama(5).get(0);
        assertThat(second.key()).isEqualTo("job-1");

        control.retryJob(first.id());

        assertThat(claimOllama(5)).as("job-0 is the head again, but job-1 still runs").isEmpty();
        succeed(List.of(second));
        assertThat(claimOllama(5)).extracting(ClaimedJob::key).containsExactly("job-0");
    }

    @Test
    void parallelModeOffersEverythingInPriorityOrder() {
        intake.insertBatch(batch(BatchMode.PARALLEL).ollamaJobs(2, 3).ollamaJobs(2, 1).build());

        assertThat(claimOllama(10)).extracting(ClaimedJob::key).containsExactly("job-2", "job-3", "job-0", "job-1");
    }

    @Test
    void claimsOnlyKindsWithFreeSlotsAndModelsTheExecutorHas() {
        intake.insertBatch(batch(BatchMode.PARALLEL)
                .jobs(3, 1, "ollama.generate", "llama3.2:3b")
                .jobs(3, 1, "comfyui.workflow", null)
                .build());

        assertThat(claims.claim(EXECUTOR, Map.of("ollama", 5), List.of("qwen3:8b"), LEASE, null))
                .as("no job wants this model").isEmpty();
        assertThat(claims.claim(EXECUTOR, Map.of("ollama", 0, "comfyui", 0), List.of("llama3.2:3b"), LEASE, null))
                .as("no free slots").isEmpty();

        List<ClaimedJob> claimed = claims.claim(EXECUTOR, Map.of("ollama", 1, "comfyui", 2), List.of("llama3.2:3b"),
                LEASE, null);

        assertThat(claimed.stream().collect(Collectors.groupingBy(ClaimedJob::kind, Collectors.counting())))
                .isEqualTo(Map.of("ollama", 1L, "comfyui", 2L));
    }

    @Test
    void manyBatchesWithoutWorkForThisExecutorDoNotHideOneThatHasSome() {
        for (int i = 0; i < 30; i++) {
            intake.insertBatch(batch(BatchMode.PARALLEL).priority(0).jobs(2, 1, "ollama.generate", "qwen3:8b").build());
        }
        NewBatch mine = batch(BatchMode.PARALLEL).priority(9).ollamaJobs(2, 1).build();
        intake.insertBatch(mine);

        assertThat(claimOllama(1)).extracting(ClaimedJob::batchId).containsExactly(mine.id());
    }

    @Test
    void aRetryWaitsForItsBackoff() {
        NewBatch b = batch(BatchMode.PARALLEL).retry(3, java.time.Duration.ofSeconds(10), 2.0).ollamaJobs(1, 1).build();
        intake.insertBatch(b);
        Instant t0 = Instant.now().truncatedTo(ChronoUnit.MILLIS);
        ClaimedJob job = claimOllamaAt(1, t0).get(0);
        outcomes.finish(List.of(new AttemptOutcome.Failure(job.id(), job.leaseToken(), "HTTP 500", true)), t0);

        assertThat(claimOllamaAt(1, t0.plusSeconds(8))).as("backoff 10 s with 10% jitter").isEmpty();
        assertThat(claimOllamaAt(1, t0.plusSeconds(12))).extracting(ClaimedJob::id).containsExactly(job.id());
    }

    @Test
    void claimersSkipRowsAnotherTransactionHoldsInsteadOfWaiting() throws Exception {
        NewBatch b = batch(BatchMode.PARALLEL).ollamaJobs(2, 1).build();
        intake.insertBatch(b);
        UUID first = b.jobs().get(0).id();
        ExecutorService other = Executors.newSingleThreadExecutor();
        try (Connection holder = dataSource.getConnection()) {
            holder.setAutoCommit(false);
            try (PreparedStatement ps = holder.prepareStatement("select id from job where id = ? for update")) {
                ps.setObject(1, first);
                try (ResultSet rs = ps.executeQuery()) {
                    assertThat(rs.next()).isTrue();
                }
            }
            Future<List<ClaimedJob>> claim = other.submit(() -> claimOllama(2));

            List<ClaimedJob> claimed = claim.get(10, TimeUnit.SECONDS);

            assertThat(claimed).extracting(ClaimedJob::id).containsExactly(b.jobs().get(1).id());
            holder.rollback();
        } finally {
            other.shutdownNow();
        }
        assertThat(claimOllama(2)).extracting(ClaimedJob::id).containsExactly(first);
    }

    @Test
    void eachClaimGetsAFreshLeaseAndAnAttemptRow() {
        intake.insertBatch(batch(BatchMode.PARALLEL).ollamaJobs(3, 1).build());

        List<ClaimedJob> claimed = claimOllama(3);

        assertThat(claimed).extracting(ClaimedJob::leaseToken).doesNotHaveDuplicates().doesNotContainNull();
        assertThat(claimed).extracting(ClaimedJob::attempt).containsOnly(1);
        assertThat(claimed).allSatisfy(j -> {
            assertThat(inspect.job(j.id()).state()).isEqualTo("running");
            assertThat(inspect.attempts(j.id())).singleElement()
                    .satisfies(a -> assertThat(a.leaseToken()).isEqualTo(j.leaseToken()));
        });
    }

    @Test
    void storesTenThousandJobsInOneTransaction() {
        NewBatch big = batch(BatchMode.PARALLEL).ollamaJobs(10_000, 1).build();

        long started = System.nanoTime();
        JobIntake.Intake stored = intake.insertBatch(big);
        long millis = (System.nanoTime() - started) / 1_000_000;
        System.out.printf("intake of 10,000 jobs: %d ms%n", millis);

        assertThat(stored.created()).isTrue();
        assertThat(inspect.count("select count(*) from job where state = 'pending'")).isEqualTo(10_000);
        assertThat(inspect.count("select count(distinct position) from job")).isEqualTo(10_000);
    }

    @Test
    void aBatchThatBreaksAConstraintStoresNothing() {
        NewBatch b = batch(BatchMode.PARALLEL).ollamaJobs(3, 1).build();
        NewBatch duplicateKeys = new NewBatch(b.id(), b.name(), b.mode(), b.priority(), b.labelsJson(),
                b.maxAttempts(), b.retryDelay(), b.retryBackoff(), null, null, null,
                List.of(b.jobs().get(0), b.jobs().get(1), sameKeyAs(b.jobs().get(0))));

        org.assertj.core.api.Assertions.assertThatThrownBy(() -> intake.insertBatch(duplicateKeys))
                .isInstanceOf(StoreException.class).hasMessageContaining("job_key_unique");
        assertThat(inspect.count("select count(*) from batch")).isZero();
        assertThat(inspect.count("select count(*) from job")).isZero();
    }

    @Test
    void theSameIdempotencyKeyAnswersTheEarlierBatch() throws Exception {
        int requests = 10;
        ExecutorService pool = Executors.newFixedThreadPool(requests);
        try {
            List<Future<JobIntake.Intake>> answers = new java.util.ArrayList<>();
            for (int i = 0; i < requests; i++) {
                NewBatch attempt = batch(BatchMode.PARALLEL).idempotency("ci", "nightly-42", "hash-a")
                        .ollamaJobs(5, 1).build();
                answers.add(pool.submit(() -> intake.insertBatch(attempt)));
            }
            Set<UUID> batchIds = new java.util.HashSet<>();
            int created = 0;
            for (Future<JobIntake.Intake> answer : answers) {
                JobIntake.Intake intake = answer.get(30, TimeUnit.SECONDS);
                batchIds.add(intake.batchId());
                created += intake.created() ? 1 : 0;
                assertThat(intake.storedRequestHash()).isEqualTo("hash-a");
            }
            assertThat(batchIds).hasSize(1);
            assertThat(created).isEqualTo(1);
            assertThat(inspect.count("select count(*) from job")).isEqualTo(5);
        } finally {
            pool.shutdownNow();
        }
        JobIntake.Intake otherScope = intake.insertBatch(
                batch(BatchMode.PARALLEL).idempotency("artist", "nightly-42", "hash-b").ollamaJobs(1, 1).build());
        assertThat(otherScope.created()).as("keys are scoped to the token").isTrue();
    }

    private static NewBatch.NewJob sameKeyAs(NewBatch.NewJob job) {
        return new NewBatch.NewJob(UUID.randomUUID(), job.key(), job.priority(), job.type(), job.model(), null, null,
                job.specJson(), job.timeout(), null);
    }

    private static String only(List<ClaimedJob> claimed) {
        assertThat(claimed).hasSize(1);
        return claimed.get(0).key() + "@" + claimed.get(0).batchId();
    }

}
