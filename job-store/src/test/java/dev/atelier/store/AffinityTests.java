package dev.atelier.store;

import static dev.atelier.store.testing.Batches.batch;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * DESIGN.md, ordering: model affinity. Within what the order and the gates allow, an executor prefers jobs for a model
 * its Ollama has loaded, leaves jobs of a model another executor holds to that one, and moves to another model only
 * when nothing is left for its own, when a job of another model has waited past the aging bound, or when a more
 * urgent batch comes.
 */
class AffinityTests extends QueueTestBase {

    static final String A = "deepseek-r1:32b";
    static final String B = "deepseek-coder:6.7b";
    static final String C = "llama3.2:3b";
    static final List<String> ALL = List.of(A, B, C);
    static final Duration WAIT = Duration.ofMinutes(2);

    /** A parallel batch alternating A and B jobs: A, B, A, B... */
    private NewBatch alternating(int count, int batchPriority) {
        dev.atelier.store.testing.Batches b = batch(BatchMode.PARALLEL).priority(batchPriority);
        for (int i = 0; i < count; i++) {
            b.jobs(1, 1, "ollama.generate", i % 2 == 0 ? A : B);
        }
        NewBatch built = b.build();
        intake.insertBatch(built);
        return built;
    }

    private List<ClaimedJob> claim(String executor, int slots, List<String> loaded, Instant now) {
        return claims.claim(executor, Map.of("ollama", slots), new JobClaims.Offer(ALL, List.of(), loaded, WAIT),
                JobClaims.newLeaseTokens(Map.of("ollama", slots)), LEASE, now);
    }

    private static List<String> models(List<ClaimedJob> jobs) {
        return jobs.stream().map(ClaimedJob::model).toList();
    }

    @Test
    void anExecutorPrefersTheModelItHasLoadedOverTheBatchsOrderAndMovesOnWhenNoneIsLeft() {
        alternating(6, 1);
        assertThat(models(claim("executor-x", 2, List.of(B), null))).containsExactly(B, B);
        assertThat(models(claim("executor-x", 2, List.of(B), null))).as("one B left, then the order").containsExactly(B, A);
    }

    @Test
    void executorsSpreadTheModelsInsteadOfSwappingBackAndForth() {
        alternating(6, 1);
        assertThat(models(claim("executor-x", 1, List.of(B), null))).containsExactly(B);
        // y holds nothing: it leaves B to x, who runs it, and takes A, which nobody holds
        assertThat(models(claim("executor-y", 1, List.of(), null))).containsExactly(A);
        assertThat(models(claim("executor-y", 2, List.of(A), null))).containsExactly(A, A);
    }

    @Test
    void aJobOfAnotherModelThatWaitedPastTheBoundGoesFirstAndAMoreUrgentBatchGoesFirstAnyway() {
        Instant t0 = Instant.now();
        alternating(4, 5);
        // two minutes on, every job of the batch has waited past the bound: the order is the batch's again
        assertThat(models(claim("executor-x", 1, List.of(B), t0.plus(WAIT).plusSeconds(1)))).containsExactly(A);

        NewBatch urgent = batch(BatchMode.PARALLEL).priority(0).jobs(2, 1, "ollama.generate", C).build();
        intake.insertBatch(urgent);
        assertThat(models(claim("executor-x", 2, List.of(B), null))).as("batch priority first").containsExactly(C, C);
    }

    @Test
    void affinityNeverOpensAGate() {
        // priority mode: group 1 is B, group 2 is A; an executor with A loaded still gets B first, and then nothing
        intake.insertBatch(batch(BatchMode.PRIORITY).jobs(1, 1, "ollama.generate", B).jobs(2, 2, "ollama.generate", A).build());
        assertThat(models(claim("executor-x", 3, List.of(A), null))).containsExactly(B);
        assertThat(claim("executor-x", 3, List.of(A), null)).as("group 2 waits for group 1").isEmpty();
    }

    @Test
    void withTheBoundAtZeroAffinityIsOff() {
        alternating(4, 1);
        assertThat(models(claims.claim("executor-x", Map.of("ollama", 2), new JobClaims.Offer(ALL, List.of(), List.of(B),
                Duration.ZERO), JobClaims.newLeaseTokens(Map.of("ollama", 2)), LEASE, null))).containsExactly(A, B);
    }
}
