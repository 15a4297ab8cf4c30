package dev.atelier.store;

import static dev.atelier.store.testing.Batches.batch;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Equal batches take turns, so a big batch submitted first does not starve a small one (DESIGN.md, ordering). */
class FairShareTests extends QueueTestBase {

    @Test
    void aSmallBatchArrivingLateIsServedBeforeThirtyMoreJobsOfTheBigOne() {
        NewBatch a = batch(BatchMode.PARALLEL).priority(3).ollamaJobs(1_000, 1).build();
        intake.insertBatch(a);
        // A has been running a while when B arrives
        succeed(claimOllama(4));
        NewBatch b = batch(BatchMode.PARALLEL).priority(3).ollamaJobs(10, 1).build();
        intake.insertBatch(b);

        int aClaimedSinceB = 0;
        int bClaimed = 0;
        while (bClaimed < 10) {
            List<ClaimedJob> claimed = claimOllama(4);
            assertThat(claimed).hasSize(4);
            for (ClaimedJob job : claimed) {
                if (job.batchId().equals(b.id())) {
                    bClaimed++;
                } else {
                    aClaimedSinceB++;
                }
            }
            succeed(claimed);
        }

        System.out.printf("fair share: B's 10 jobs were claimed while A got %d%n", aClaimedSinceB);
        assertThat(aClaimedSinceB).isLessThan(30);
    }

    @Test
    void claimingOneAtATimeAlternatesBetweenEqualBatches() {
        NewBatch a = batch(BatchMode.PARALLEL).ollamaJobs(5, 1).build();
        NewBatch b = batch(BatchMode.PARALLEL).ollamaJobs(5, 1).build();
        intake.insertBatch(a);
        intake.insertBatch(b);

        StringBuilder order = new StringBuilder();
        for (int i = 0; i < 6; i++) {
            List<ClaimedJob> one = claimOllama(1);
            order.append(one.get(0).batchId().equals(a.id()) ? 'A' : 'B');
            succeed(one);
        }

        assertThat(order.toString()).isIn("ABABAB", "BABABA");
    }

    @Test
    void oneKindsClaimsDoNotMakeTheBatchsJobsOfAnotherKindLookServed() {
        // A mixes both kinds and came first; B has ComfyUI jobs only. An Ollama executor works through A's Ollama
        // jobs meanwhile: with one stamp per batch, each of its claims sent A's ComfyUI jobs behind all of B's
        NewBatch a = batch(BatchMode.PARALLEL).ollamaJobs(6, 1).jobs(5, 1, "comfyui.workflow", null).build();
        NewBatch b = batch(BatchMode.PARALLEL).jobs(5, 1, "comfyui.workflow", null).build();
        intake.insertBatch(a);
        intake.insertBatch(b);

        StringBuilder comfyOrder = new StringBuilder();
        for (int i = 0; i < 6; i++) {
            List<ClaimedJob> ollama = claimOllama(1);
            assertThat(ollama).extracting(ClaimedJob::batchId).containsExactly(a.id());
            succeed(ollama);
            List<ClaimedJob> comfy = claims.claim(EXECUTOR, Map.of("comfyui", 1), List.of(), LEASE, null);
            assertThat(comfy).extracting(ClaimedJob::kind).containsExactly("comfyui");
            comfyOrder.append(comfy.get(0).batchId().equals(a.id()) ? 'A' : 'B');
            succeed(comfy);
        }

        assertThat(comfyOrder.toString()).as("ComfyUI claims, by batch").isEqualTo("ABABAB");
    }

    @Test
    void aBatchOfferingOnlyItsShareNeverLetsALessUrgentOneIn() {
        // three urgent batches: 60 slots give each a share of 48 (twice 20, and 8 spare), which only the big one fills
        NewBatch big = batch(BatchMode.PARALLEL).priority(1).ollamaJobs(100, 1).build();
        NewBatch small1 = batch(BatchMode.PARALLEL).priority(1).ollamaJobs(2, 1).build();
        NewBatch small2 = batch(BatchMode.PARALLEL).priority(1).ollamaJobs(2, 1).build();
        NewBatch routine = batch(BatchMode.PARALLEL).priority(2).ollamaJobs(100, 1).build();
        List.of(routine, big, small1, small2).forEach(intake::insertBatch);

        List<ClaimedJob> claimed = claimOllama(60);

        assertThat(claimed).as("every slot filled").hasSize(60);
        assertThat(claimed).as("nothing of the less urgent batch while the urgent ones have work")
                .noneMatch(job -> job.batchId().equals(routine.id()));
        assertThat(claimed.stream().filter(job -> job.batchId().equals(big.id()))).hasSize(56);
    }

    @Test
    void aMoreUrgentBatchStillGoesFirst() {
        NewBatch routine = batch(BatchMode.PARALLEL).priority(5).ollamaJobs(5, 1).build();
        NewBatch urgent = batch(BatchMode.PARALLEL).priority(1).ollamaJobs(3, 1).build();
        intake.insertBatch(routine);
        intake.insertBatch(urgent);

        assertThat(claimOllama(4)).extracting(ClaimedJob::batchId)
                .containsExactly(urgent.id(), urgent.id(), urgent.id(), routine.id());
    }
}
