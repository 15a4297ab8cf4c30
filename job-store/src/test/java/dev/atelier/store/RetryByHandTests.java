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
        queue.insertBatch(batch(BatchMode.PARALLEL).retry(1, java.time.Duration.ZERO, 1.0).ollamaJobs(1, 1).build());
        ClaimedJob first = claimOllama(1).get(0);
        failForGood(List.of(first));

        assertThat(queue.retryJob(first.id())).isEqualTo(JobQueue.Retry.RETRIED);

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
        queue.insertBatch(b);
        UUID cancelled = b.jobs().get(0).id();
        queue.cancelJob(cancelled, null);
        ClaimedJob other = claimOllama(1).get(0);
        succeed(List.of(other));

        assertThat(queue.retryJob(cancelled)).isEqualTo(JobQueue.Retry.RETRIED);
        assertThat(queue.retryJob(other.id())).isEqualTo(JobQueue.Retry.NOT_RETRYABLE);
        assertThat(queue.retryJob(UUID.randomUUID())).isEqualTo(JobQueue.Retry.NOT_FOUND);
        assertThat(inspect.job(other.id()).state()).isEqualTo("success");
    }

    @Test
    void retryFailedTakesEveryFailedJobOfTheBatchAndNothingElse() {
        NewBatch b = batch(BatchMode.PARALLEL).ollamaJobs(4, 1).build();
        queue.insertBatch(b);
        List<ClaimedJob> claimed = claimOllama(4);
        failForGood(claimed.subList(0, 2));
        succeed(claimed.subList(2, 3));

        assertThat(queue.retryFailed(b.id())).isEqualTo(2);

        assertThat(claimed).extracting(j -> inspect.job(j.id()).state())
                .containsExactly("pending", "pending", "success", "running");
        assertThat(queue.retryFailed(b.id())).isZero();
        assertThat(queue.retryFailed(UUID.randomUUID())).isEqualTo(-1);
    }
}
