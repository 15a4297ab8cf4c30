package dev.atelier.store;

import static dev.atelier.store.testing.Batches.batch;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.atelier.store.testing.ExportLines;
import dev.atelier.store.testing.Inspect.JobRow;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** One test per row of DESIGN.md's table "Attempts: what spends one". */
class AttemptRulesTests extends QueueTestBase {

    private ClaimedJob oneClaimedJob(int maxAttempts, Instant now) {
        intake.insertBatch(batch(BatchMode.PARALLEL).retry(maxAttempts, Duration.ofSeconds(5), 2.0).ollamaJobs(1, 1).build());
        return claimOllamaAt(1, now).get(0);
    }

    @Test
    void successSpendsTheAttemptAndShowsIt() {
        ClaimedJob job = oneClaimedJob(3, null);

        Map<java.util.UUID, JobState> moved = succeed(List.of(job));

        assertThat(moved).containsEntry(job.id(), JobState.SUCCESS);
        JobRow row = inspect.job(job.id());
        assertThat(row.state()).isEqualTo("success");
        assertThat(row.attemptsUsed()).isEqualTo(1);
        assertThat(row.result()).contains("done job-0");
        assertThat(inspect.attempts(job.id())).singleElement()
                .satisfies(a -> assertThat(a.status()).isEqualTo("success"));
        assertThat(inspect.eventStatuses(job.id())).containsExactly("success");
        assertThat(inspect.ledgerStatuses(job.id())).containsExactly("success");
    }

    @Test
    void aJobCausedErrorGoesToRetryWithBackoffAndSpendsTheAttempt() {
        Instant t0 = Instant.now().truncatedTo(ChronoUnit.MILLIS);
        ClaimedJob job = oneClaimedJob(3, t0);

        Map<java.util.UUID, JobState> moved = outcomes.finish(
                List.of(new AttemptOutcome.Failure(job.id(), job.leaseToken(), "HTTP 500 from Ollama: boom", true)), t0).moved();

        assertThat(moved).containsEntry(job.id(), JobState.RETRY);
        JobRow row = inspect.job(job.id());
        assertThat(row.attemptsUsed()).isEqualTo(1);
        assertThat(row.finishedAt()).isNull();
        double delay = Duration.between(t0, row.runAfter().toInstant()).toMillis() / 1000.0;
        assertThat(delay).as("first backoff is retry.delay, with jitter").isCloseTo(5.0, within(0.51));
        assertThat(inspect.attempts(job.id())).singleElement().satisfies(a -> {
            assertThat(a.status()).isEqualTo("failed");
            assertThat(a.error()).isEqualTo("HTTP 500 from Ollama: boom");
        });
        assertThat(inspect.ledgerStatuses(job.id())).as("not terminal yet").isEmpty();

        // the second failure waits delay * backoff
        Instant t1 = row.runAfter().toInstant();
        ClaimedJob again = claimOllamaAt(1, t1).get(0);
        assertThat(again.attempt()).isEqualTo(2);
        outcomes.finish(List.of(new AttemptOutcome.Failure(again.id(), again.leaseToken(), "HTTP 500", true)), t1);
        double secondDelay = Duration.between(t1, inspect.job(job.id()).runAfter().toInstant()).toMillis() / 1000.0;
        assertThat(secondDelay).isCloseTo(10.0, within(1.01));
    }

    @Test
    void aJobCausedErrorOnTheLastAttemptFailsTheJob() {
        ClaimedJob job = oneClaimedJob(1, null);

        Map<java.util.UUID, JobState> moved = outcomes.finish(
                List.of(new AttemptOutcome.Failure(job.id(), job.leaseToken(), "HTTP 500 from Ollama: boom", true)), null).moved();

        assertThat(moved).containsEntry(job.id(), JobState.FAILED);
        JobRow row = inspect.job(job.id());
        assertThat(row.error()).isEqualTo("HTTP 500 from Ollama: boom");
        assertThat(row.finishedAt()).isNotNull();
        assertThat(inspect.ledgerStatuses(job.id())).containsExactly("failed");
    }

    @Test
    void aValidationErrorFailsAtOnceWithAttemptsLeft() {
        ClaimedJob job = oneClaimedJob(5, null);

        Map<java.util.UUID, JobState> moved = failForGood(List.of(job));

        assertThat(moved).containsEntry(job.id(), JobState.FAILED);
        assertThat(inspect.job(job.id()).attemptsUsed()).isEqualTo(1);
        assertThat(inspect.attempts(job.id())).singleElement().satisfies(a -> assertThat(a.status()).isEqualTo("failed"));
    }

    @Test
    void anUnreachableOrBusyBackendHandsTheJobBackWithoutSpendingAnAttempt() {
        ClaimedJob job = oneClaimedJob(1, null);

        Map<java.util.UUID, JobState> moved = outcomes.finish(List.of(
                new AttemptOutcome.HandBack(job.id(), job.leaseToken(), "ollama unreachable: connection refused")), null).moved();

        assertThat(moved).containsEntry(job.id(), JobState.PENDING);
        JobRow row = inspect.job(job.id());
        assertThat(row.attemptsUsed()).isZero();
        assertThat(row.attempt()).as("the hand-back is not in the history").isZero();
        assertThat(row.waitingReason()).isEqualTo("ollama unreachable: connection refused");
        assertThat(inspect.attempts(job.id())).isEmpty();
        assertThat(inspect.eventStatuses(job.id())).containsExactly("handed_back");
        assertThat(ExportLines.lines(exports.eventsAfter(ExportLog.ExportFilter.ALL, 0, 10))).singleElement()
                .satisfies(e -> assertThat(e.get("attempt").isNull()).as("a hand-back has no attempt number").isTrue());

        // even with a budget of one attempt, it runs again
        ClaimedJob again = claimOllama(1).get(0);
        assertThat(again.attempt()).isEqualTo(1);
        assertThat(succeed(List.of(again))).containsEntry(job.id(), JobState.SUCCESS);
    }

    @Test
    void aGracefulShutdownHandsBackEveryHeldJob() {
        intake.insertBatch(batch(BatchMode.PARALLEL).retry(1, Duration.ofSeconds(5), 2.0).ollamaJobs(3, 1).build());
        List<ClaimedJob> held = claimOllama(3);

        Map<java.util.UUID, JobState> moved = outcomes.finish(held.stream()
                .map(j -> (AttemptOutcome) new AttemptOutcome.HandBack(j.id(), j.leaseToken(), "executor shutting down"))
                .toList(), null).moved();

        assertThat(moved).hasSize(3).containsOnlyKeys(held.stream().map(ClaimedJob::id).toList());
        assertThat(moved.values()).containsOnly(JobState.PENDING);
        assertThat(inspect.count("select count(*) from attempt")).isZero();
        assertThat(inspect.count("select count(*) from event_line where status = 'handed_back'")).isEqualTo(3);
        assertThat(claimOllama(3)).hasSize(3);
    }

    @Test
    void anExpiredLeaseSpendsTheAttemptWithTheExecutorNamed() {
        Instant t0 = Instant.now().truncatedTo(ChronoUnit.MILLIS);
        ClaimedJob job = oneClaimedJob(2, t0);

        assertThat(sweeps.reapExpired(100, t0.plus(LEASE).minusSeconds(1))).as("lease still valid").isEmpty();
        Map<java.util.UUID, JobState> reaped = sweeps.reapExpired(100, t0.plus(LEASE).plusSeconds(1));

        assertThat(reaped).containsEntry(job.id(), JobState.RETRY);
        assertThat(inspect.job(job.id()).attemptsUsed()).isEqualTo(1);
        assertThat(inspect.attempts(job.id())).singleElement().satisfies(a -> {
            assertThat(a.status()).isEqualTo("failed");
            assertThat(a.error()).isEqualTo("lease expired on " + EXECUTOR);
        });

        Instant t1 = inspect.job(job.id()).runAfter().toInstant();
        ClaimedJob again = claimOllamaAt(1, t1).get(0);
        Map<java.util.UUID, JobState> last = sweeps.reapExpired(100, t1.plus(LEASE).plusSeconds(1));
        assertThat(last).as("out of attempts").containsEntry(again.id(), JobState.FAILED);
        assertThat(inspect.job(job.id()).error()).isEqualTo("lease expired on " + EXECUTOR);
        assertThat(inspect.ledgerStatuses(job.id())).containsExactly("failed");
    }

    @Test
    void heartbeatsKeepALeaseAlive() {
        Instant t0 = Instant.now().truncatedTo(ChronoUnit.MILLIS);
        ClaimedJob job = oneClaimedJob(1, t0);

        AttemptOutcomes.Heartbeat beat = outcomes.heartbeat(List.of(job.leaseToken()), LEASE, t0.plusSeconds(20));

        assertThat(beat.extended()).containsExactly(job.leaseToken());
        assertThat(sweeps.reapExpired(100, t0.plusSeconds(40))).isEmpty();
        assertThat(sweeps.reapExpired(100, t0.plusSeconds(51))).containsKey(job.id());
        assertThat(outcomes.heartbeat(List.of(job.leaseToken()), LEASE, t0.plusSeconds(52)).lost())
                .as("a reaped lease is lost to its old holder").containsExactly(job.leaseToken());
    }

    @Test
    void leaseRenewalsAreHotUpdatesThatWriteNoIndexEntry() throws Exception {
        intake.insertBatch(batch(BatchMode.PARALLEL).ollamaJobs(20, 1).build());
        List<ClaimedJob> jobs = claimOllama(20);
        List<java.util.UUID> tokens = jobs.stream().map(ClaimedJob::leaseToken).toList();
        // one connection for the renewals and the statistics, so they are flushed before they are read
        try (dev.atelier.store.testing.ThreadBoundDataSource one = new dev.atelier.store.testing.ThreadBoundDataSource(dataSource)) {
            AttemptOutcomes renewing = new AttemptOutcomes(one);
            long before = hotUpdates(one);
            for (int beat = 1; beat <= 3; beat++) {
                assertThat(renewing.heartbeat(tokens, LEASE, null).extended()).hasSize(20);
            }
            // a fresh table's pages are full (fill factor 90 leaves room on pages written after V11), so some
            // renewals move a row to another page; what matters is that most stay where they are, indexes untouched
            assertThat(hotUpdates(one) - before).as("HOT updates among 60 renewals").isGreaterThanOrEqualTo(40);
        }
    }

    /** The job table's HOT updates so far, after this connection flushed its own statistics (PostgreSQL 15+). */
    private static long hotUpdates(javax.sql.DataSource connection) throws java.sql.SQLException {
        try (java.sql.Connection c = connection.getConnection(); java.sql.Statement s = c.createStatement()) {
            s.execute("select pg_stat_force_next_flush()");
            s.execute("select pg_stat_clear_snapshot()");
            try (java.sql.ResultSet rs = s.executeQuery("select n_tup_hot_upd from pg_stat_user_tables where relname = 'job'")) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    @Test
    void cancellingAWaitingJobEndsItAtOnceWithoutAnAttempt() {
        NewBatch b = batch(BatchMode.SEQUENTIAL).ollamaJobs(2, 1).build();
        intake.insertBatch(b);
        java.util.UUID waiting = b.jobs().get(1).id();

        JobControl.Cancel cancel = control.cancelJob(waiting, null);

        assertThat(cancel).isEqualTo(new JobControl.Cancel(true, 1, 0));
        assertThat(inspect.job(waiting).state()).isEqualTo("cancelled");
        assertThat(inspect.attempts(waiting)).isEmpty();
        assertThat(inspect.ledgerStatuses(waiting)).containsExactly("cancelled");
        assertThat(control.cancelJob(waiting, null)).as("idempotent").isEqualTo(new JobControl.Cancel(true, 0, 0));
        assertThat(control.cancelJob(java.util.UUID.randomUUID(), null).found()).isFalse();
    }

    @Test
    void cancellingARunningJobAsksItsExecutorAndClosesTheAttemptAsCancelled() {
        ClaimedJob job = oneClaimedJob(1, null);

        assertThat(control.cancelJob(job.id(), null)).isEqualTo(new JobControl.Cancel(true, 0, 1));
        assertThat(inspect.job(job.id()).state()).as("still running until the executor aborts").isEqualTo("running");
        AttemptOutcomes.Heartbeat beat = outcomes.heartbeat(List.of(job.leaseToken()), LEASE, null);
        assertThat(beat.cancelRequested()).containsExactly(job.leaseToken());

        assertThat(outcomes.closeCancelled(List.of(job.leaseToken()), null)).containsExactly(job.id());

        JobRow row = inspect.job(job.id());
        assertThat(row.state()).isEqualTo("cancelled");
        assertThat(row.attemptsUsed()).as("not spent").isZero();
        assertThat(inspect.attempts(job.id())).singleElement()
                .satisfies(a -> assertThat(a.status()).isEqualTo("cancelled"));
        assertThat(inspect.eventStatuses(job.id())).containsExactly("cancelled");
        assertThat(inspect.ledgerStatuses(job.id())).containsExactly("cancelled");
    }

    @Test
    void aJobThatSucceedsBeforeTheCancelLandsKeepsItsSuccess() {
        ClaimedJob job = oneClaimedJob(1, null);
        control.cancelJob(job.id(), null);

        assertThat(succeed(List.of(job))).containsEntry(job.id(), JobState.SUCCESS);
        assertThat(outcomes.closeCancelled(List.of(job.leaseToken()), null)).isEmpty();
        assertThat(inspect.job(job.id()).state()).isEqualTo("success");
    }

    @Test
    void aCancelRequestedJobThatFailsOrIsReapedEndsCancelledWithoutSpending() {
        intake.insertBatch(batch(BatchMode.PARALLEL).retry(3, Duration.ZERO, 1.0).ollamaJobs(2, 1).build());
        Instant t0 = Instant.now().truncatedTo(ChronoUnit.MILLIS);
        List<ClaimedJob> held = claimOllamaAt(2, t0);
        held.forEach(j -> control.cancelJob(j.id(), t0));

        outcomes.finish(List.of(new AttemptOutcome.Failure(held.get(0).id(), held.get(0).leaseToken(), "HTTP 500", true)), t0);
        sweeps.reapExpired(100, t0.plus(LEASE).plusSeconds(1));

        for (ClaimedJob j : held) {
            JobRow row = inspect.job(j.id());
            assertThat(row.state()).isEqualTo("cancelled");
            assertThat(row.attemptsUsed()).isZero();
        }
    }

    @Test
    void cancellingABatchEndsWaitingJobsAndAsksRunningOnes() {
        NewBatch b = batch(BatchMode.PARALLEL).ollamaJobs(5, 1).build();
        intake.insertBatch(b);
        List<ClaimedJob> running = claimOllama(2);

        JobControl.Cancel cancel = control.cancelBatch(b.id(), null);

        assertThat(cancel).isEqualTo(new JobControl.Cancel(true, 3, 2));
        assertThat(claimOllama(5)).isEmpty();
        assertThat(outcomes.heartbeat(running.stream().map(ClaimedJob::leaseToken).toList(), LEASE, null).cancelRequested())
                .hasSize(2);
        assertThat(control.cancelBatch(java.util.UUID.randomUUID(), null).found()).isFalse();
    }
}
