package dev.atelier.store;

import static dev.atelier.store.testing.Batches.batch;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** POST .../retry and .../retry-failed: a fresh budget, the history kept. */
class RetryByHandTests extends QueueTestBase {

    @Test
    void aFailedJobGoesBackToPendingWithAFreshBudgetAndItsHistory() {
        intake.insertBatch(batch(BatchMode.PARALLEL).retry(1, java.time.Duration.ZERO, 1.0).ollamaJobs(1, 1).build());
        ClaimedJob first = claimOllama(1).get(0);
        failForGood(List.of(first));

        assertThat(control.retryJob(first.id())).isEqualTo(JobControl.Retry.RETRIED);

        assertThat(inspect.job(first.id()).state()).isEqualTo("pending");
        assertThat(inspect.job(first.id()).attemptsUsed()).isZero();
        ClaimedJob second = claimOllama(1).get(0);
        assertThat(second.attempt()).as("numbering goes on").isEqualTo(2);
        succeed(List.of(second));
        assertThat(inspect.attempts(first.id())).extracting(a -> a.status()).containsExactly("failed", "success");
        assertThat(inspect.ledgerStatuses(first.id())).containsExactly("failed", "success");
    }

    @Test
    void aCancelledJobCanBeRetriedButNotASuccessfulOne() {
        NewBatch b = batch(BatchMode.PARALLEL).ollamaJobs(2, 1).build();
        intake.insertBatch(b);
        UUID cancelled = b.jobs().get(0).id();
        control.cancelJob(cancelled, null);
        ClaimedJob other = claimOllama(1).get(0);
        succeed(List.of(other));

        assertThat(control.retryJob(cancelled)).isEqualTo(JobControl.Retry.RETRIED);
        assertThat(control.retryJob(other.id())).isEqualTo(JobControl.Retry.NOT_RETRYABLE);
        assertThat(control.retryJob(UUID.randomUUID())).isEqualTo(JobControl.Retry.NOT_FOUND);
        assertThat(inspect.job(other.id()).state()).isEqualTo("success");
    }

    @Test
    void retryFailedTakesEveryFailedJobOfTheBatchAndNothingElse() {
        NewBatch b = batch(BatchMode.PARALLEL).ollamaJobs(4, 1).build();
        intake.insertBatch(b);
        List<ClaimedJob> claimed = claimOllama(4);
        failForGood(claimed.subList(0, 2));
        succeed(claimed.subList(2, 3));

        assertThat(control.retryFailed(b.id())).isEqualTo(2);

        assertThat(claimed).extracting(j -> inspect.job(j.id()).state())
                .containsExactly("pending", "pending", "success", "running");
        assertThat(control.retryFailed(b.id())).isZero();
        assertThat(control.retryFailed(UUID.randomUUID())).isEqualTo(-1);
    }
}
