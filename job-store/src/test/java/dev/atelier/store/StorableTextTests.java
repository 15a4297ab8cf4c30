package dev.atelier.store;

import static dev.atelier.store.testing.Batches.batch;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.atelier.store.testing.FlakyDataSource;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Text a backend sent reaches PostgreSQL cleaned of what it refuses, and a failure tells whether trying again as it
 * is can help (the executor's completer splits a batch only on failures that cannot).
 */
class StorableTextTests extends QueueTestBase {

    private static final String NUL = "\u0000";

    @Test
    void nulAndUnpairedSurrogatesBecomeTheReplacementCharacterAndPairsStay() {
        assertThat(StorableText.clean("a" + NUL + "b")).isEqualTo("a\uFFFDb");
        assertThat(StorableText.clean("cut \uD83D")).isEqualTo("cut \uFFFD");
        assertThat(StorableText.clean("\uDE00 alone")).isEqualTo("\uFFFD alone");
        assertThat(StorableText.clean("ok \uD83D\uDE00")).isEqualTo("ok \uD83D\uDE00");
        assertThat(StorableText.unstorable("\uD83D\uDE00" + NUL + NUL + "\uD83D")).isEqualTo(3);
        String plain = "nothing to clean";
        assertThat(StorableText.clean(plain)).isSameAs(plain);
        assertThat(StorableText.clean(null)).isNull();
    }

    @Test
    void errorsAndHandBackReasonsWithNulAreStoredCleaned() {
        intake.insertBatch(batch(BatchMode.PARALLEL).ollamaJobs(2, 1).build());
        List<ClaimedJob> jobs = claimOllama(2);

        outcomes.finish(List.of(
                new AttemptOutcome.Failure(jobs.get(0).id(), jobs.get(0).leaseToken(), "HTTP 500: <" + NUL + ">", false),
                new AttemptOutcome.HandBack(jobs.get(1).id(), jobs.get(1).leaseToken(), "offline " + NUL)), null);

        assertThat(inspect.job(jobs.get(0).id()).error()).isEqualTo("HTTP 500: <\uFFFD>");
        assertThat(inspect.attempts(jobs.get(0).id())).singleElement()
                .satisfies(a -> assertThat(a.error()).isEqualTo("HTTP 500: <\uFFFD>"));
        assertThat(inspect.job(jobs.get(1).id()).waitingReason()).isEqualTo("offline \uFFFD");
    }

    @Test
    void aModelNameWithNulInAClaimMatchesNothingAndFailsNothing() {
        intake.insertBatch(batch(BatchMode.PARALLEL).ollamaJobs(1, 1).build());
        assertThat(claims.claim(EXECUTOR, Map.of("ollama", 1), List.of("llama" + NUL), LEASE, null)).isEmpty();
        assertThat(claimOllama(1)).hasSize(1);
    }

    @Test
    void aResultPostgresRefusesIsADataErrorAndAnUnreachableDatabaseIsTransient() {
        intake.insertBatch(batch(BatchMode.PARALLEL).ollamaJobs(1, 1).build());
        ClaimedJob job = claimOllama(1).get(0);

        assertThatThrownBy(() -> outcomes.finish(List.of(new AttemptOutcome.Success(job.id(), job.leaseToken(),
                "{\"text\": \"a\\u0000b\"}")), null))
                .isInstanceOfSatisfying(StoreException.class, e -> {
                    assertThat(e.sqlState()).startsWith("22");
                    assertThat(e.isTransient()).isFalse();
                });
        assertThat(inspect.job(job.id()).state()).as("nothing changed").isEqualTo("running");

        FlakyDataSource flaky = new FlakyDataSource(dataSource);
        flaky.down(true);
        assertThatThrownBy(() -> new AttemptOutcomes(flaky.dataSource()).finish(List.of(new AttemptOutcome.Success(job.id(),
                job.leaseToken(), "{}")), null))
                .isInstanceOfSatisfying(StoreException.class, e -> assertThat(e.isTransient()).isTrue());
    }
}
