package dev.atelier.executor.service;

import static dev.atelier.store.testing.Batches.batch;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.atelier.store.AttemptOutcome;
import dev.atelier.store.BatchMode;
import dev.atelier.store.ClaimedJob;
import dev.atelier.store.JobQueue;
import dev.atelier.store.StoreException;
import dev.atelier.store.testing.Batches;
import dev.atelier.store.testing.FlakyDataSource;
import dev.atelier.store.testing.Inspect;
import dev.atelier.store.testing.TestPostgres;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What an executor holds while its database connection fails, on a real PostgreSQL behind connections that fail
 * on cue: the leases of outcomes waiting to be stored, and of claims whose answer was lost, stay the executor's to
 * renew, and nothing it held spends an attempt because the database was away.
 */
class DatabaseOutageTests {

    private static final Duration LEASE = Duration.ofSeconds(30);
    private static final List<String> MODELS = List.of(Batches.MODEL);

    FlakyDataSource flaky;
    JobQueue queue;
    Inspect inspect;
    Completer completer;

    @BeforeEach
    void setUp() {
        DataSource database = TestPostgres.get().newDatabase().dataSource();
        flaky = new FlakyDataSource(database);
        queue = new JobQueue(flaky.dataSource());
        inspect = new Inspect(database);
    }

    @AfterEach
    void tearDown() throws InterruptedException {
        if (completer != null) {
            completer.drainAndStop(Duration.ZERO);
        }
    }

    @Test
    void anOutcomeWaitingForTheDatabaseKeepsItsLeaseRenewableUntilStored() {
        queue.insertBatch(batch(BatchMode.PARALLEL).ollamaJobs(1, 1).build());
        ClaimedJob job = queue.claim("executor-a", Map.of("ollama", 1), MODELS, LEASE, null).get(0);
        completer = new Completer(queue, () -> { });
        completer.start();

        flaky.down(true);
        completer.submit(new Finished.Outcome(new AttemptOutcome.Success(job.id(), job.leaseToken(), "{\"text\": \"done\"}")));
        await().atMost(Duration.ofSeconds(10)).until(() -> flaky.refused() >= 2); // it tried, and tries again
        assertThat(completer.waitingLeases()).containsExactly(job.leaseToken());
        assertThat(inspect.job(job.id()).state()).isEqualTo("running");

        flaky.down(false);
        // the heartbeat renews it as a held lease: another executor's reaper, an hour on, finds nothing to take
        Instant later = Instant.now().plus(Duration.ofHours(1));
        queue.heartbeat(completer.waitingLeases(), Duration.ofHours(2), null);
        assertThat(queue.reapExpired(10, later)).isEmpty();

        await().atMost(Duration.ofSeconds(10)).until(() -> "success".equals(inspect.job(job.id()).state()));
        assertThat(inspect.attempts(job.id())).extracting(Inspect.AttemptRow::status).containsExactly("success");
        await().atMost(Duration.ofSeconds(5)).until(() -> completer.waitingLeases().isEmpty());
    }

    @Test
    void aClaimWhoseAnswerWasLostIsHandedBackWithoutSpendingAnAttempt() {
        UUID batchId = queue.insertBatch(batch(BatchMode.PARALLEL).ollamaJobs(3, 1).build()).batchId();
        Claimer claimer = new Claimer(queue, "executor-a");

        flaky.loseNextCommitAnswer();
        assertThatThrownBy(() -> claimer.claim(Map.of("ollama", 2), MODELS, LEASE)).isInstanceOf(StoreException.class);
        // the claim went through: two jobs run under tokens only the claimer kept
        List<UUID> running = inspect.strings("select id::text from job where state = 'running' and batch_id = ?",
                batchId).stream().map(UUID::fromString).toList();
        assertThat(running).hasSize(2);
        assertThat(claimer.unconfirmed()).hasSize(2);
        assertThat(queue.heartbeat(claimer.unconfirmed(), LEASE, null).extended())
                .as("the heartbeat can renew them meanwhile").hasSize(2);

        // while the database is away the tokens are kept
        flaky.down(true);
        assertThatThrownBy(claimer::handBackUnconfirmed).isInstanceOf(StoreException.class);
        assertThat(claimer.unconfirmed()).hasSize(2);
        flaky.down(false);

        assertThat(claimer.handBackUnconfirmed()).isEqualTo(2);
        assertThat(claimer.unconfirmed()).isEmpty();
        for (UUID id : running) {
            assertThat(inspect.job(id).state()).isEqualTo("pending");
            assertThat(inspect.job(id).attemptsUsed()).isZero();
            assertThat(inspect.job(id).waitingReason()).isEqualTo(Claimer.UNCONFIRMED);
            assertThat(inspect.attempts(id)).isEmpty();
            assertThat(inspect.eventStatuses(id)).containsExactly("handed_back");
        }
        assertThat(claimer.claim(Map.of("ollama", 3), MODELS, LEASE)).extracting(ClaimedJob::attempt)
                .containsExactly(1, 1, 1);
    }

    @Test
    void aClaimThatFailedBeforeItsCommitLeavesNothingToHandBack() {
        queue.insertBatch(batch(BatchMode.PARALLEL).ollamaJobs(2, 1).build());
        Claimer claimer = new Claimer(queue, "executor-a");

        flaky.down(true);
        assertThatThrownBy(() -> claimer.claim(Map.of("ollama", 2), MODELS, LEASE)).isInstanceOf(StoreException.class);
        flaky.down(false);

        assertThat(claimer.unconfirmed()).hasSize(2);
        assertThat(claimer.handBackUnconfirmed()).isZero();
        assertThat(claimer.unconfirmed()).isEmpty();
        assertThat(claimer.claim(Map.of("ollama", 2), MODELS, LEASE)).hasSize(2);
    }
}
