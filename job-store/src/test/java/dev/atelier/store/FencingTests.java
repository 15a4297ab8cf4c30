package dev.atelier.store;

import static dev.atelier.store.testing.Batches.batch;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.atelier.store.testing.Inspect;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** Only the holder of an attempt's lease may finish it (DESIGN.md, leases and fencing; invariant 2). */
class FencingTests extends QueueTestBase {

    private ClaimedJob staleAfterReapAndReclaim;
    private ClaimedJob current;

    private void reapAndReclaim() {
        intake.insertBatch(batch(BatchMode.PARALLEL).retry(3, Duration.ZERO, 1.0).ollamaJobs(1, 1).build());
        Instant t0 = Instant.now().truncatedTo(ChronoUnit.MILLIS);
        staleAfterReapAndReclaim = claimOllamaAt(1, t0).get(0);
        Instant later = t0.plus(LEASE).plusSeconds(1);
        sweeps.reapExpired(10, later);
        // a restarted executor with the same name claims the job again
        current = claimOllamaAt(1, later).get(0);
        assertThat(current.id()).isEqualTo(staleAfterReapAndReclaim.id());
    }

    @Test
    void aStaleCompletionChangesNothing() {
        reapAndReclaim();

        assertThat(succeed(List.of(staleAfterReapAndReclaim))).isEmpty();

        assertThat(inspect.job(current.id()).state()).isEqualTo("running");
        assertThat(inspect.job(current.id()).leaseToken()).isEqualTo(current.leaseToken());
        assertThat(inspect.job(current.id()).result()).isNull();
        assertThat(inspect.attempts(current.id())).extracting(a -> a.status()).containsExactly("failed", "running");
        assertThat(inspect.ledgerStatuses(current.id())).isEmpty();

        // the current holder's outcome is the one that counts
        assertThat(outcomes.finish(List.of(new AttemptOutcome.Success(current.id(), current.leaseToken(),
                "{\"text\": \"fresh\"}")), null).moved()).containsEntry(current.id(), JobState.SUCCESS);
        assertThat(inspect.job(current.id()).result()).contains("fresh");
    }

    @Test
    void aStaleHandBackOrFailureChangesNothing() {
        reapAndReclaim();

        assertThat(outcomes.finish(List.of(
                new AttemptOutcome.HandBack(current.id(), staleAfterReapAndReclaim.leaseToken(), "refused"),
                new AttemptOutcome.Failure(current.id(), staleAfterReapAndReclaim.leaseToken(), "HTTP 500", true)),
                null).moved()).isEmpty();
        assertThat(outcomes.closeCancelled(List.of(staleAfterReapAndReclaim.leaseToken()), null)).isEmpty();

        assertThat(inspect.job(current.id()).state()).isEqualTo("running");
        assertThat(inspect.job(current.id()).attemptsUsed()).isEqualTo(1);
        assertThat(inspect.attempts(current.id())).hasSize(2);
        assertThat(outcomes.heartbeat(List.of(staleAfterReapAndReclaim.leaseToken()), LEASE, null).extended()).isEmpty();
    }

    @Test
    void aClaimWhoseAnswerWasLostIsHandedBackByItsTokensWithoutSpendingAnAttempt() {
        intake.insertBatch(batch(BatchMode.PARALLEL).ollamaJobs(3, 1).build());
        List<UUID> tokens = JobClaims.newLeaseTokens(Map.of("ollama", 3));
        // the claim commits, but the connection breaks before its answer reaches the executor
        List<ClaimedJob> unseen = claims.claim(EXECUTOR, Map.of("ollama", 3), MODELS, tokens, LEASE, null);
        assertThat(unseen).extracting(ClaimedJob::leaseToken).containsExactlyInAnyOrderElementsOf(tokens);
        // one of them finished after all (its outcome was stored): that one stays finished
        ClaimedJob finished = unseen.get(0);
        succeed(List.of(finished));

        assertThat(claims.handBackUnconfirmedClaim(tokens, "claim unconfirmed", null))
                .containsOnlyKeys(unseen.get(1).id(), unseen.get(2).id())
                .containsValues(JobState.PENDING);

        for (ClaimedJob job : unseen.subList(1, 3)) {
            assertThat(inspect.job(job.id()).state()).isEqualTo("pending");
            assertThat(inspect.job(job.id()).attemptsUsed()).isZero();
            assertThat(inspect.job(job.id()).leaseToken()).isNull();
            assertThat(inspect.job(job.id()).waitingReason()).isEqualTo("claim unconfirmed");
            assertThat(inspect.attempts(job.id())).as("not spent, not shown").isEmpty();
            assertThat(inspect.eventStatuses(job.id())).containsExactly("handed_back");
        }
        assertThat(inspect.job(finished.id()).state()).isEqualTo("success");
        // done once: again, or with tokens that took nothing, it changes nothing
        assertThat(claims.handBackUnconfirmedClaim(tokens, "claim unconfirmed", null)).isEmpty();
        assertThat(claims.handBackUnconfirmedClaim(List.of(UUID.randomUUID()), "claim unconfirmed", null)).isEmpty();
        assertThat(outcomes.heartbeat(tokens, LEASE, null).extended()).isEmpty();
        // and the jobs are claimed again on their first attempt
        assertThat(claimOllama(3)).extracting(ClaimedJob::attempt).containsExactly(1, 1);
    }

    @Test
    void aClaimNeedsALeaseTokenForEveryFreeSlot() {
        intake.insertBatch(batch(BatchMode.PARALLEL).ollamaJobs(3, 1).build());
        assertThatThrownBy(() -> claims.claim(EXECUTOR, Map.of("ollama", 3), MODELS,
                JobClaims.newLeaseTokens(Map.of("ollama", 2)), LEASE, null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("3 free slots");
        assertThat(inspect.count("select count(*) from job where state = 'running'")).isZero();
    }

    @Test
    void aSecondCompletionOfTheSameAttemptChangesNothing() {
        intake.insertBatch(batch(BatchMode.PARALLEL).ollamaJobs(1, 1).build());
        ClaimedJob job = claimOllama(1).get(0);
        succeed(List.of(job));

        assertThat(outcomes.finish(List.of(new AttemptOutcome.Success(job.id(), job.leaseToken(), "{\"text\": \"again\"}")),
                null).moved()).isEmpty();
        assertThat(outcomes.finish(List.of(new AttemptOutcome.Success(job.id(), UUID.randomUUID(), "{\"text\": \"forged\"}")),
                null).moved()).isEmpty();

        assertThat(inspect.job(job.id()).result()).contains("done job-0");
        assertThat(inspect.ledgerStatuses(job.id())).containsExactly("success");
        assertThat(inspect.eventStatuses(job.id())).containsExactly("success");
    }

    @Test
    void inOneCallStaleOutcomesAreDroppedAndCurrentOnesKept() {
        intake.insertBatch(batch(BatchMode.PARALLEL).ollamaJobs(2, 1).build());
        List<ClaimedJob> held = claimOllama(2);

        var moved = outcomes.finish(List.of(
                new AttemptOutcome.Success(held.get(0).id(), held.get(0).leaseToken(), "{\"text\": \"ok\"}"),
                new AttemptOutcome.Success(held.get(1).id(), UUID.randomUUID(), "{\"text\": \"stale\"}")), null).moved();

        assertThat(moved).containsOnlyKeys(held.get(0).id());
        assertThat(inspect.job(held.get(1).id()).state()).isEqualTo("running");
    }
    @Test
    void aStaleAndACurrentTokenForTheSameJobInOneBatchCloseOnlyTheCurrentAttempt() {
        // one executor holds both: it was reaped during a stall, then claimed the job again, and both calls ended
        reapAndReclaim();

        assertThat(outcomes.finish(List.of(
                new AttemptOutcome.Success(current.id(), staleAfterReapAndReclaim.leaseToken(), "{\"text\": \"stale\"}"),
                new AttemptOutcome.Success(current.id(), current.leaseToken(), "{\"text\": \"fresh\"}")), null).moved())
                .containsExactly(Map.entry(current.id(), JobState.SUCCESS));

        assertThat(inspect.job(current.id()).result()).contains("fresh");
        assertThat(inspect.attempts(current.id())).extracting(a -> a.status() + " " + a.leaseToken())
                .containsExactly("failed " + staleAfterReapAndReclaim.leaseToken(), "success " + current.leaseToken());
        assertThat(inspect.eventStatuses(current.id())).containsExactly("failed", "success");
    }

    @Test
    void aStaleHandBackBesideTheCurrentOneHandsBackTheCurrentAttemptAndTheJobIsClaimedAgain() {
        reapAndReclaim();

        assertThat(outcomes.finish(List.of(
                new AttemptOutcome.HandBack(current.id(), staleAfterReapAndReclaim.leaseToken(), "stale reason"),
                new AttemptOutcome.HandBack(current.id(), current.leaseToken(), "ollama offline")), null).moved())
                .containsExactly(Map.entry(current.id(), JobState.PENDING));

        assertThat(inspect.job(current.id()).waitingReason()).isEqualTo("ollama offline");
        assertThat(inspect.attempts(current.id())).as("the reaped attempt stays; the handed-back one goes")
                .extracting(a -> a.status() + " " + a.leaseToken())
                .containsExactly("failed " + staleAfterReapAndReclaim.leaseToken());
        // its next claim takes the next attempt number without meeting a leftover attempt row
        ClaimedJob again = claimOllamaAt(1, Instant.now().plus(LEASE).plusSeconds(5)).get(0);
        assertThat(again.attempt()).isEqualTo(2);
        assertThat(succeed(List.of(again))).containsEntry(again.id(), JobState.SUCCESS);
    }

    @Test
    void aStaleFailureBesideTheCurrentSuccessDoesNotReopenTheReapedAttempt() {
        reapAndReclaim();

        assertThat(outcomes.finish(List.of(
                new AttemptOutcome.Failure(current.id(), staleAfterReapAndReclaim.leaseToken(), "HTTP 500", true),
                new AttemptOutcome.Success(current.id(), current.leaseToken(), "{\"text\": \"fresh\"}")), null).moved())
                .containsExactly(Map.entry(current.id(), JobState.SUCCESS));
        assertThat(inspect.attempts(current.id())).extracting(Inspect.AttemptRow::error)
                .containsExactly("lease expired on " + EXECUTOR, null);
    }
}
