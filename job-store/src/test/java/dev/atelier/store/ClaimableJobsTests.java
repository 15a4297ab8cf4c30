package dev.atelier.store;

import static dev.atelier.store.testing.Batches.batch;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@code claimable_jobs(kind)}, the autoscaler's query (k8s/, KEDA's postgresql trigger), counts exactly what a
 * claim could take now: gated groups, a sequential batch's busy slot and backing-off jobs are left out.
 */
class ClaimableJobsTests extends QueueTestBase {

    private long claimable(String kind) {
        return inspect.count("select claimable_jobs('" + kind + "')");
    }

    /** A failed attempt with backoff: running, then retry until now + {@code interval} (the state machine's path). */
    private void backOff(java.util.UUID job, String interval) {
        inspect.execute("update job set state = 'running', lease_token = gen_random_uuid(), "
                + "lease_expires_at = now() + interval '1 minute' where id = ?", job);
        inspect.execute("update job set state = 'retry', lease_token = null, lease_expires_at = null, "
                + "run_after = now() + ?::interval where id = ?", interval, job);
    }

    @Test
    void countsWhatAClaimCouldTakeNowAndNothingGatedOrBackingOff() {
        // priority: group 1 (2 jobs) may run, group 2 (3 jobs) waits for it
        intake.insertBatch(batch(BatchMode.PRIORITY).ollamaJobs(2, 1).ollamaJobs(3, 2).build());
        // sequential with a job running: nothing more
        NewBatch busy = batch(BatchMode.SEQUENTIAL).ollamaJobs(3, 1).build();
        intake.insertBatch(busy);
        inspect.execute("update job set state = 'running', lease_token = gen_random_uuid(), "
                + "lease_expires_at = now() + interval '1 minute' where id = ?", busy.jobs().get(0).id());
        // sequential and idle: its head only
        intake.insertBatch(batch(BatchMode.SEQUENTIAL).ollamaJobs(3, 1).build());
        // parallel: 4 Ollama jobs, of which one backs off until later and one's backoff has passed; 2 ComfyUI
        NewBatch parallel = batch(BatchMode.PARALLEL).ollamaJobs(4, 1).jobs(2, 1, "comfyui.workflow", null).build();
        intake.insertBatch(parallel);
        backOff(parallel.jobs().get(0).id(), "10 minutes");
        backOff(parallel.jobs().get(1).id(), "-1 second");

        assertThat(claimable("ollama")).isEqualTo(2 + 0 + 1 + 3);
        assertThat(claimable("comfyui")).isEqualTo(2);

        // and a claim with room for everything takes exactly that many
        List<ClaimedJob> claimed = claims.claim(EXECUTOR, Map.of("ollama", 100, "comfyui", 100), MODELS, LEASE, null);
        assertThat(claimed.stream().filter(j -> j.kind().equals("ollama"))).hasSize(6);
        assertThat(claimed.stream().filter(j -> j.kind().equals("comfyui"))).hasSize(2);
        assertThat(claimable("ollama")).isZero();
    }
}
