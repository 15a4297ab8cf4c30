package dev.atelier.executor.service;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atelier.executor.backend.BackendState;
import dev.atelier.executor.backend.CallFailure;
import dev.atelier.store.AttemptOutcome;
import dev.atelier.store.ClaimedJob;
import dev.atelier.store.StoreException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CancellationException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.microprofile.faulttolerance.exceptions.CircuitBreakerOpenException;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** One test per row of DESIGN.md's attempt table, as {@link AttemptTable} codes it. */
class AttemptTableTests {

    static final ObjectMapper JSON = new ObjectMapper();

    MutableClock clock = new MutableClock(Instant.parse("2026-12-04T12:00:00Z"));
    Backends backends = new Backends("executor-a", Map.of("ollama", 1), Map.of("ollama", "http://ollama.test"));
    SettableChecks checks = new SettableChecks();
    AtomicBoolean reachable = checks.reachable;
    AtomicInteger refreshes = checks.refreshes;
    AttemptTable table = new AttemptTable(backends, checks,
            new AttemptTable.Settings(Map.of("ollama", Duration.ofSeconds(5)), 3, Duration.ofMinutes(10)), clock, JSON);

    @BeforeEach
    void online() {
        backends.state("ollama").checked(BackendState.Status.ONLINE, List.of("llama3.2"), clock.instant(), "test");
    }

    static ClaimedJob job(int handBacksInRow) {
        return new ClaimedJob(UUID.randomUUID(), UUID.randomUUID(), "job-0", 1, "ollama", "ollama.generate",
                "llama3.2", null, null, "{}", Duration.ofMinutes(1), 1, UUID.randomUUID(), Instant.now(), null,
                handBacksInRow);
    }

    private Finished failed(ClaimedJob job, Throwable failure) {
        return table.failed(job, new CallControl(), failure);
    }

    private static AttemptOutcome outcome(Finished finished) {
        assertThat(finished).isInstanceOf(Finished.Outcome.class);
        return ((Finished.Outcome) finished).outcome();
    }

    private BackendState.Snapshot backend() {
        return backends.state("ollama").snapshot();
    }

    @Test
    void aResultIsASuccessWithWhatPostgresRefusesReplacedAndSaidSoApart() throws Exception {
        ObjectNode result = JSON.createObjectNode().put("text", "a\u0000b\u0000").put("thinking", "cut \uD83D")
                .put("model", "llama3.2");
        AttemptOutcome outcome = outcome(table.succeeded(job(0), result));

        assertThat(outcome).isInstanceOf(AttemptOutcome.Success.class);
        JsonNode stored = JSON.readTree(((AttemptOutcome.Success) outcome).resultJson());
        assertThat(stored.get("text").asText()).isEqualTo("a\uFFFDb\uFFFD");
        assertThat(stored.get("thinking").asText()).isEqualTo("cut \uFFFD");
        assertThat(stored.get("cleaned")).isEqualTo(JSON.readTree("{\"text\": 2, \"thinking\": 1}"));
        assertThat(((AttemptOutcome.Success) outcome).resultJson()).doesNotContain("\\u0000");

        JsonNode clean = JSON.readTree(((AttemptOutcome.Success) outcome(table.succeeded(job(0),
                JSON.createObjectNode().put("text", "plain")))).resultJson());
        assertThat(clean.has("cleaned")).isFalse();
    }

    @Test
    void aStopDecidesWhateverTheCallThrew() {
        for (CallControl.StopReason reason : CallControl.StopReason.values()) {
            CallControl control = new CallControl();
            control.stop(reason);
            Finished finished = table.failed(job(0), control, new CallFailure.Failed("HTTP 500", null));
            switch (reason) {
                case CANCEL -> assertThat(finished).isInstanceOf(Finished.Cancelled.class);
                case LEASE_LOST -> assertThat(finished).isInstanceOf(Finished.Abandoned.class);
                case SHUTDOWN -> assertThat(outcome(finished)).isInstanceOfSatisfying(AttemptOutcome.HandBack.class,
                        back -> {
                            assertThat(back.reason()).isEqualTo("executor shutting down");
                            assertThat(back.effect()).isEqualTo(AttemptOutcome.HandBack.Effect.NONE);
                        });
            }
        }
    }

    @Test
    void unreachableOrBusyHandsBackUncountedAndMarksTheBackend() {
        AttemptOutcome refused = outcome(failed(job(0), new CallFailure.Unavailable("refused", false, null)));
        assertThat(refused).isEqualTo(new AttemptOutcome.HandBack(((AttemptOutcome.HandBack) refused).jobId(),
                refused.leaseToken(), "ollama offline on executor-a: refused"));
        assertThat(backend().status()).isEqualTo(BackendState.Status.OFFLINE);

        online();
        AttemptOutcome busy = outcome(failed(job(0), new CallFailure.Unavailable("HTTP 503", true, null)));
        assertThat(((AttemptOutcome.HandBack) busy).reason()).isEqualTo("ollama busy on executor-a: HTTP 503");
        assertThat(backend().claimable(clock.instant())).isFalse();
        assertThat(backend().claimable(clock.instant().plusSeconds(5))).isTrue();

        online();
        AttemptOutcome open = outcome(failed(job(0), new CircuitBreakerOpenException("open")));
        assertThat(((AttemptOutcome.HandBack) open).reason()).isEqualTo("ollama circuit breaker open on executor-a");
        assertThat(backend().claimable(clock.instant())).isFalse();
    }

    @Test
    void aModelThatDoesNotFitIsHandedBackAndLeftToOtherBoxesForTheCapacityPause() {
        String noRoom = "model requires more system memory (21.5 GiB) than is available (15.2 GiB)";
        AttemptOutcome back = outcome(failed(job(0), new CallFailure.Capacity(noRoom)));

        assertThat(back).isInstanceOfSatisfying(AttemptOutcome.HandBack.class, h -> {
            assertThat(h.effect()).isEqualTo(AttemptOutcome.HandBack.Effect.NONE);
            assertThat(h.reason()).isEqualTo("ollama on executor-a cannot load model 'llama3.2': " + noRoom);
        });
        BackendState state = backends.state("ollama");
        assertThat(state.claimableModels(clock.instant())).doesNotContain("llama3.2");
        assertThat(state.refused(clock.instant())).extracting(r -> r.name() + ": " + r.reason())
                .containsExactly("llama3.2: " + noRoom);
        assertThat(backend().status()).as("the backend itself is fine").isEqualTo(BackendState.Status.ONLINE);

        clock.advance(Duration.ofMinutes(10));
        assertThat(state.claimableModels(clock.instant())).contains("llama3.2");
        assertThat(state.refused(clock.instant())).isEmpty();
    }

    @Test
    void aMissingModelIsForgottenRefreshedAndHandedBackCounted() {
        AttemptOutcome back = outcome(failed(job(0), new CallFailure.ModelMissing("HTTP 404")));

        assertThat(back).isInstanceOfSatisfying(AttemptOutcome.HandBack.class, h -> {
            assertThat(h.effect()).isEqualTo(AttemptOutcome.HandBack.Effect.COUNT);
            assertThat(h.reason()).isEqualTo("model 'llama3.2' is not on the Ollama of executor-a");
        });
        assertThat(backend().models()).doesNotContain("llama3.2");
        assertThat(refreshes).hasValue(1);
    }

    @Test
    void pastTheCapTheNextRoundSpendsAnAttemptSayingWhy() {
        assertThat(outcome(failed(job(2), new CallFailure.ModelMissing("HTTP 404"))))
                .isInstanceOf(AttemptOutcome.HandBack.class);
        AttemptOutcome spent = outcome(failed(job(3), new CallFailure.JobFiles("GET /view timed out", null)));

        assertThat(spent).isInstanceOfSatisfying(AttemptOutcome.Failure.class, f -> {
            assertThat(f.retryable()).isTrue();
            assertThat(f.error()).isEqualTo("ollama could not move this job's files on executor-a: GET /view timed out"
                    + " (handed back 3 times in a row while ollama passed its health checks, so this attempt is spent)");
        });
    }

    @Test
    void outputsTheStoreCouldNotTakeNowAreACountedHandBackAndOtherStoreFailuresSpendTheAttempt() {
        StoreException bucketDown = new StoreException("store artifacts", new java.sql.SQLException(
                "could not store out_0.png in s3://artifacts/atelier/: Connection refused", "58030"));
        AttemptOutcome back = outcome(failed(job(0), bucketDown));
        assertThat(back).isInstanceOfSatisfying(AttemptOutcome.HandBack.class, h -> {
            assertThat(h.effect()).isEqualTo(AttemptOutcome.HandBack.Effect.COUNT);
            assertThat(h.reason()).startsWith("could not store this job's outputs on executor-a: store artifacts: could not store out_0.png")
                    .contains("Connection refused");
        });

        StoreException refused = new StoreException("store artifacts", new java.sql.SQLException("value too long",
                "22001"));
        assertThat(outcome(failed(job(0), refused))).isInstanceOf(AttemptOutcome.Failure.class);
    }

    @Test
    void aHandBackOfItsOwnWhileTheBackendFailsItsHealthCheckIsAnOutageNotCounted() {
        reachable.set(false);
        AttemptOutcome back = outcome(failed(job(5), new CallFailure.ModelMissing("HTTP 404")));

        assertThat(back).isInstanceOfSatisfying(AttemptOutcome.HandBack.class, h -> {
            assertThat(h.effect()).isEqualTo(AttemptOutcome.HandBack.Effect.NONE);
            assertThat(h.reason()).startsWith("ollama offline on executor-a");
        });
    }

    @Test
    void aCutMidAnswerIsTheJobsWhileTheBackendAnswersAndNobodysWhenItIsGone() {
        assertThat(outcome(failed(job(0), new CallFailure.Broken("reset", null))))
                .isInstanceOfSatisfying(AttemptOutcome.Failure.class, f -> {
                    assertThat(f.error()).isEqualTo("reset");
                    assertThat(f.retryable()).isTrue();
                });
        assertThat(backend().status()).isEqualTo(BackendState.Status.ONLINE);
        reachable.set(false);
        assertThat(outcome(failed(job(0), new CallFailure.Broken("reset", null))))
                .isInstanceOf(AttemptOutcome.HandBack.class);
        assertThat(backend().status()).isEqualTo(BackendState.Status.OFFLINE);
    }

    @Test
    void aRejectedRequestFailsAtOnceAndOtherFailuresAreRetried() {
        assertThat(outcome(failed(job(0), new CallFailure.Rejected("HTTP 400"))))
                .isInstanceOfSatisfying(AttemptOutcome.Failure.class, f -> assertThat(f.retryable()).isFalse());
        assertThat(outcome(failed(job(0), new CallFailure.Failed("HTTP 500", null))))
                .isInstanceOfSatisfying(AttemptOutcome.Failure.class, f -> assertThat(f.retryable()).isTrue());
        assertThat(outcome(failed(job(0), new CancellationException())))
                .isInstanceOfSatisfying(AttemptOutcome.Failure.class,
                        f -> assertThat(f.error()).isEqualTo("the call was cancelled"));
        assertThat(outcome(failed(job(0), new IllegalArgumentException("bad spec"))))
                .isInstanceOfSatisfying(AttemptOutcome.Failure.class,
                        f -> assertThat(f.error()).isEqualTo("executor error: IllegalArgumentException: bad spec"));
        assertThat(failed(job(0), new CallFailure.Stopped("the lease is no longer this attempt's")))
                .isInstanceOf(Finished.Abandoned.class);
    }
}
