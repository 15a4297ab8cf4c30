package dev.atelier.store;

import static dev.atelier.store.testing.Batches.batch;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * DESIGN.md's attempt table, "handed back N times in a row": the store keeps the run of counted hand-backs on the
 * job and hands it to the next claimer, which decides when the run has gone on long enough. Only hand-backs for the
 * job's own reasons count; any spent attempt, a success, a reap or a retry by hand ends the run.
 */
class HandBackRunTests extends QueueTestBase {

    private ClaimedJob claimOne() {
        return claimOllama(1).get(0);
    }

    private void handBack(ClaimedJob job, boolean counted) {
        assertThat(outcomes.finish(List.of(new AttemptOutcome.HandBack(job.id(), job.leaseToken(),
                "model 'llama3.2' is not on the Ollama of executor-a",
                counted ? AttemptOutcome.HandBack.Effect.COUNT : AttemptOutcome.HandBack.Effect.NONE)), null).moved())
                .containsEntry(job.id(), JobState.PENDING);
    }

    @Test
    void countedHandBacksAddUpAndTheNextClaimCarriesTheRun() {
        intake.insertBatch(batch(BatchMode.PARALLEL).ollamaJobs(1, 1).build());

        for (int round = 0; round < 3; round++) {
            ClaimedJob job = claimOne();
            assertThat(job.handBacksInRow()).isEqualTo(round);
            assertThat(job.attempt()).as("a hand-back spends nothing").isEqualTo(1);
            handBack(job, true);
        }
        ClaimedJob fourth = claimOne();
        assertThat(fourth.handBacksInRow()).isEqualTo(3);
        assertThat(inspect.eventStatuses(fourth.id())).containsExactly("handed_back", "handed_back", "handed_back");
    }

    @Test
    void outagesBusyBackendsAndShutdownsDoNotCount() {
        intake.insertBatch(batch(BatchMode.PARALLEL).ollamaJobs(1, 1).build());
        handBack(claimOne(), true);
        handBack(claimOne(), false);
        ClaimedJob third = claimOne();
        assertThat(third.handBacksInRow()).as("neither counted nor ending the run").isEqualTo(1);

        claims.handBackUnconfirmedClaim(List.of(third.leaseToken()), "claim unconfirmed", null);
        assertThat(claimOne().handBacksInRow()).isEqualTo(1);
    }

    @Test
    void aSpentAttemptEndsTheRun() {
        intake.insertBatch(batch(BatchMode.PARALLEL).retry(3, Duration.ZERO, 1.0).ollamaJobs(1, 1).build());
        handBack(claimOne(), true);
        handBack(claimOne(), true);
        ClaimedJob spent = claimOne();
        outcomes.finish(List.of(new AttemptOutcome.Failure(spent.id(), spent.leaseToken(), "handed back 2 times", true)),
                null);
        assertThat(inspect.job(spent.id()).handBacksInRow()).isZero();

        handBack(claimOne(), true);
        ClaimedJob reaped = claimOne();
        assertThat(reaped.handBacksInRow()).isEqualTo(1);
        Instant later = Instant.now().plus(LEASE).plusSeconds(1);
        sweeps.reapExpired(10, later);
        assertThat(inspect.job(reaped.id()).handBacksInRow()).as("a reap spends the attempt too").isZero();

        handBack(claimOllamaAt(1, later).get(0), true);
        ClaimedJob done = claimOllamaAt(1, later).get(0);
        assertThat(done.handBacksInRow()).isEqualTo(1);
        succeed(List.of(done));
        assertThat(inspect.job(done.id()).handBacksInRow()).isZero();
    }

    @Test
    void aRetryByHandStartsAFreshRun() {
        intake.insertBatch(batch(BatchMode.PARALLEL).ollamaJobs(1, 1).build());
        handBack(claimOne(), true);
        ClaimedJob job = claimOne();
        handBack(job, true);
        // cancelled while waiting: the run stays on the row until someone retries the job
        control.cancelJob(job.id(), null);
        assertThat(inspect.job(job.id()).handBacksInRow()).isEqualTo(2);

        assertThat(control.retryJob(job.id())).isEqualTo(JobControl.Retry.RETRIED);
        assertThat(claimOne().handBacksInRow()).isZero();
    }
    @Test
    void aJobKeptOffAnExecutorGoesToAnotherAndFailsWhenEveryLiveOneKeepsItOff() {
        intake.insertBatch(batch(BatchMode.PARALLEL).jobs(1, 1, "comfyui.workflow", null).build());
        ExecutorRegistry registry = new ExecutorRegistry(dataSource);
        for (String id : List.of("executor-a", "executor-b")) {
            registry.report(id, Map.of("comfyui", 1), Map.of("comfyui", 0), List.of(new ExecutorRegistry.BackendReport(
                    "comfyui", "http://" + id + ":8188", "online", List.of(), null, "")), null);
        }
        String lacksIt = "comfyui on executor-a cannot run it: ComfyUI rejected the workflow: Cannot execute because"
                + " node IPAdapterApply does not exist.";

        ClaimedJob first = claims.claim("executor-a", Map.of("comfyui", 1), List.of(), LEASE, null).get(0);
        outcomes.finish(List.of(new AttemptOutcome.HandBack(first.id(), first.leaseToken(), lacksIt,
                AttemptOutcome.HandBack.Effect.AVOID_EXECUTOR)), null);

        assertThat(claims.claim("executor-a", Map.of("comfyui", 1), List.of(), LEASE, null)).as("kept off a").isEmpty();
        assertThat(sweeps.sweepUnservableModels(Duration.ofSeconds(60), Duration.ofSeconds(60), null))
                .as("b may have the node").isEmpty();
        ClaimedJob second = claims.claim("executor-b", Map.of("comfyui", 1), List.of(), LEASE, null).get(0);
        assertThat(second.id()).isEqualTo(first.id());
        outcomes.finish(List.of(new AttemptOutcome.HandBack(second.id(), second.leaseToken(),
                lacksIt.replace("executor-a", "executor-b"), AttemptOutcome.HandBack.Effect.AVOID_EXECUTOR)), null);

        assertThat(sweeps.sweepUnservableModels(Duration.ofSeconds(60), Duration.ofSeconds(60), null))
                .containsExactly(Map.entry(first.id(), JobState.FAILED));
        assertThat(inspect.job(first.id()).error()).isEqualTo("no live executor can run it: "
                + lacksIt.replace("executor-a", "executor-b"));
        assertThat(inspect.attempts(first.id())).isEmpty();

        // a retry by hand lets every executor try again (a node may have been installed meanwhile)
        assertThat(control.retryJob(first.id())).isEqualTo(JobControl.Retry.RETRIED);
        assertThat(claims.claim("executor-a", Map.of("comfyui", 1), List.of(), LEASE, null)).hasSize(1);
    }
}
