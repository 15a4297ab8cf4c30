package dev.atelier.executor.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.atelier.store.AttemptOutcome;
import dev.atelier.store.AttemptOutcomes;
import dev.atelier.store.BatchMode;
import dev.atelier.store.ClaimedJob;
import dev.atelier.store.StoreException;
import dev.atelier.store.testing.Batches;
import dev.atelier.store.testing.FlakyDataSource;
import dev.atelier.store.testing.Inspect;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link Completer}, one round at a time: outcomes PostgreSQL refuses are narrowed down and failed while the rest
 * of their batch is stored; transient failures keep the batch; an outcome matches only its own attempt; and one that
 * waits too long while the database answers is let go.
 */
class CompleterTests {

    private static final Duration LEASE = LoopFixture.LEASE;
    private static final List<String> MODELS = List.of(Batches.MODEL);

    LoopFixture fixture = new LoopFixture();
    FlakyDataSource flaky = new FlakyDataSource(fixture.dataSource);
    Completer completer = new Completer(new AttemptOutcomes(flaky.dataSource()), Completer.Settings.forLease(LEASE),
            fixture.clock, opened -> { });

    @AfterEach
    void tearDown() throws Exception {
        fixture.close();
    }

    private List<ClaimedJob> claim(int count) {
        fixture.intake.insertBatch(Batches.batch(BatchMode.PARALLEL).retry(3, Duration.ZERO, 1.0)
                .ollamaJobs(count, 1).build());
        return fixture.claims.claim("executor-a", Map.of("ollama", count), MODELS, LEASE, null);
    }

    private void submit(AttemptOutcome outcome) {
        completer.submit(new Finished.Outcome(outcome), fixture.clock.instant());
    }

    private static AttemptOutcome.Success success(ClaimedJob job, String resultJson) {
        return new AttemptOutcome.Success(job.id(), job.leaseToken(), resultJson);
    }

    @Test
    void anOutcomePostgresRefusesFailsItsJobAndTheRestOfItsBatchIsStored() {
        List<ClaimedJob> jobs = claim(5);
        for (int i = 0; i < 5; i++) {
            // the third carries what the old completer choked on for ever: \u0000 in a JSON string
            submit(success(jobs.get(i), i == 2 ? "{\"text\": \"<\\u0000>\"}" : "{\"text\": \"fine\"}"));
        }

        assertThat(completer.runOnce()).isEqualTo(5);

        for (int i = 0; i < 5; i++) {
            assertThat(fixture.state(jobs.get(i).id())).isEqualTo(i == 2 ? "failed" : "success");
        }
        assertThat(fixture.inspect.job(jobs.get(2).id()).error())
                .startsWith("the outcome could not be stored, so the job fails:")
                .contains("unsupported Unicode escape sequence");
        assertThat(completer.waitingCount()).isZero();
    }

    @Test
    void aStaleAndACurrentTokenForTheSameJobInOneBatchCloseOnlyTheCurrentAttempt() {
        ClaimedJob stale = claim(1).get(0);
        fixture.inspect.execute("update job set lease_expires_at = now() - interval '1 second'");
        fixture.sweeps.reapExpired(10, null);
        ClaimedJob current = fixture.claims.claim("executor-a", Map.of("ollama", 1), MODELS, LEASE, null).get(0);
        assertThat(current.id()).isEqualTo(stale.id());

        submit(new AttemptOutcome.Failure(stale.id(), stale.leaseToken(), "HTTP 500 from a stale call", true));
        submit(new AttemptOutcome.HandBack(current.id(), current.leaseToken(), "ollama offline on executor-a"));
        assertThat(completer.runOnce()).isEqualTo(2);

        assertThat(fixture.state(current.id())).isEqualTo("pending");
        assertThat(fixture.inspect.attempts(current.id())).extracting(a -> a.status() + " " + a.error())
                .containsExactly("failed lease expired on executor-a");
        // the job's next claim finds no attempt row left in its way
        ClaimedJob again = fixture.claims.claim("executor-a", Map.of("ollama", 1), MODELS, LEASE, null).get(0);
        submit(success(again, "{\"text\": \"third time\"}"));
        submit(success(current, "{\"text\": \"stale success\"}"));
        completer.runOnce();
        assertThat(fixture.inspect.job(again.id()).result()).contains("third time");
        assertThat(fixture.inspect.attempts(again.id())).extracting(Inspect.AttemptRow::status)
                .containsExactly("failed", "success");
    }

    @Test
    void aTransientFailureKeepsTheBatchForTheNextRound() {
        ClaimedJob job = claim(1).get(0);
        submit(success(job, "{\"text\": \"kept\"}"));

        flaky.down(true);
        assertThatThrownBy(completer::runOnce).isInstanceOf(StoreException.class);
        assertThat(completer.waitingLeases(fixture.clock.instant(), null)).containsOnlyKeys(job.leaseToken());
        assertThat(fixture.state(job.id())).isEqualTo("running");

        flaky.down(false);
        assertThat(completer.runOnce()).isEqualTo(1);
        assertThat(fixture.state(job.id())).isEqualTo("success");
        assertThat(completer.waitingLeases(fixture.clock.instant(), null)).isEmpty();
    }

    @Test
    void anOutcomeWaitingThreeLeasesWhileTheDatabaseAnswersIsNoLongerRenewed() {
        ClaimedJob job = claim(1).get(0);
        submit(success(job, "{\"text\": \"too late\"}"));
        flaky.down(true);
        assertThatThrownBy(completer::runOnce).isInstanceOf(StoreException.class);

        // an outage counts for nothing: the wait starts when the database is seen answering again
        fixture.clock.advance(LEASE.multipliedBy(10));
        Instant back = fixture.clock.instant();
        assertThat(completer.waitingLeases(back, null)).hasSize(1);
        assertThat(completer.waitingLeases(back, back)).hasSize(1);
        fixture.clock.advance(LEASE.multipliedBy(3).minusSeconds(1));
        assertThat(completer.waitingLeases(fixture.clock.instant(), back)).hasSize(1);
        fixture.clock.advance(Duration.ofSeconds(1));
        assertThat(completer.waitingLeases(fixture.clock.instant(), back)).as("let go").isEmpty();

        // it is not tried again: the reaper takes the job back and spends the attempt
        assertThatThrownBy(completer::runOnce).isInstanceOf(StoreException.class);
        flaky.down(false);
        assertThat(completer.runOnce()).isZero();
        assertThat(fixture.state(job.id())).isEqualTo("running");
        fixture.inspect.execute("update job set lease_expires_at = now() - interval '1 second'");
        assertThat(fixture.sweeps.reapExpired(10, null)).containsOnlyKeys(job.id());
    }

    @Test
    void aDiscardedOutcomeIsNotRenewed() {
        ClaimedJob job = claim(1).get(0);
        submit(success(job, "{\"text\": \"fenced\"}"));
        completer.discard(job.leaseToken());
        assertThat(completer.waitingLeases(fixture.clock.instant(), fixture.clock.instant())).isEmpty();
    }
}
