package dev.atelier.store;

import static dev.atelier.store.testing.Batches.batch;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * A workflow goes only to an executor whose ComfyUI has every checkpoint it loads (its {@code ckpt_name} inputs),
 * and one that no live executor can run waits, saying which checkpoint is missing, then fails after the grace.
 */
class CheckpointTests extends QueueTestBase {

    static final Duration GRACE = Duration.ofSeconds(60);

    private static String workflow(String... checkpoints) {
        StringBuilder nodes = new StringBuilder("\"3\": {\"class_type\": \"KSampler\", \"inputs\": {\"model\": [\"4\", 0]}}");
        for (int i = 0; i < checkpoints.length; i++) {
            nodes.append(", \"").append(10 + i).append("\": {\"class_type\": \"CheckpointLoaderSimple\", \"inputs\": ")
                    .append("{\"ckpt_name\": \"").append(checkpoints[i]).append("\"}}");
        }
        // a checkpoint name linked from another node is a link, not a file name
        nodes.append(", \"20\": {\"class_type\": \"CheckpointLoaderSimple\", \"inputs\": {\"ckpt_name\": [\"21\", 0]}}");
        return "{\"workflow\": {" + nodes + "}}";
    }

    private UUID submit(String... checkpoints) {
        NewBatch b = batch(BatchMode.PARALLEL).job("comfyui.workflow", null, workflow(checkpoints), Duration.ofMinutes(5))
                .build();
        intake.insertBatch(b);
        return b.jobs().get(0).id();
    }

    private List<ClaimedJob> claimWith(List<String> checkpoints, int slots) {
        return claims.claim(EXECUTOR, Map.of("comfyui", slots),
                new JobClaims.Offer(List.of(), checkpoints, List.of(), Duration.ZERO),
                JobClaims.newLeaseTokens(Map.of("comfyui", slots)), LEASE, null);
    }

    @Test
    void aWorkflowGoesOnlyToAnExecutorWithEveryCheckpointItLoads() {
        UUID sd15 = submit("v1-5-pruned-emaonly-fp16.safetensors");
        UUID both = submit("v1-5-pruned-emaonly-fp16.safetensors", "sd_xl_base_1.0.safetensors");
        UUID none = submit();
        assertThat(inspect.strings("select array_to_string(checkpoints, ',') from job where id = ?", both))
                .containsExactly("sd_xl_base_1.0.safetensors,v1-5-pruned-emaonly-fp16.safetensors");

        assertThat(claimWith(List.of("v1-5-pruned-emaonly-fp16.safetensors"), 3)).extracting(ClaimedJob::id)
                .containsExactlyInAnyOrder(sd15, none);
        assertThat(claimWith(List.of("sd_xl_base_1.0.safetensors", "v1-5-pruned-emaonly-fp16.safetensors"), 3))
                .extracting(ClaimedJob::id).containsExactly(both);
    }

    @Test
    void aWorkflowNoLiveExecutorCanLoadWaitsNamingTheCheckpointThenFailsAfterTheGrace() {
        Instant t0 = Instant.now();
        UUID job = submit("sd_xl_base_1.0.safetensors");
        ExecutorRegistry registry = new ExecutorRegistry(dataSource);
        registry.report("executor-a", Map.of("comfyui", 1), Map.of("comfyui", 0), List.of(new ExecutorRegistry.BackendReport(
                "comfyui", "http://a:8188", "online", List.of("v1-5-pruned-emaonly-fp16.safetensors"), t0, "")), t0);

        assertThat(sweeps.sweepUnservableModels(GRACE, GRACE, t0.plusSeconds(10))).containsOnlyKeys(job);
        assertThat(inspect.job(job).waitingReason()).isEqualTo("no live executor has checkpoint 'sd_xl_base_1.0.safetensors'");
        assertThat(sweeps.sweepUnservableModels(GRACE, GRACE, t0.plusSeconds(11))).as("unchanged, not written").isEmpty();

        registry.report("executor-a", Map.of("comfyui", 1), Map.of("comfyui", 0), List.of(new ExecutorRegistry.BackendReport(
                "comfyui", "http://a:8188", "online", List.of("v1-5-pruned-emaonly-fp16.safetensors"), t0, "")),
                t0.plusSeconds(61));
        assertThat(sweeps.sweepUnservableModels(GRACE, GRACE, t0.plusSeconds(61)))
                .containsExactly(Map.entry(job, JobState.FAILED));
        assertThat(inspect.job(job).error()).isEqualTo("no executor has checkpoint 'sd_xl_base_1.0.safetensors'"
                + " (available: v1-5-pruned-emaonly-fp16.safetensors)");
        assertThat(inspect.attempts(job)).isEmpty();
    }
}
