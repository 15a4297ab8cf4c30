package dev.atelier.store;

import static dev.atelier.store.testing.Batches.batch;
import static org.assertj.core.api.Assertions.assertThat;

import dev.atelier.store.Artifacts.ArtifactInfo;
import dev.atelier.store.Artifacts.NewArtifact;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

class ArtifactsTests extends QueueTestBase {

    private ClaimedJob claimComfy() {
        return claims.claim(EXECUTOR, Map.of("comfyui", 1), List.of(), LEASE, null).get(0);
    }

    @Test
    void outputsAreStoredOnceByContentAndOnlyByTheLeaseHolder() {
        intake.insertBatch(batch(BatchMode.PARALLEL).jobs(2, 1, "comfyui.workflow", null).build());
        Artifacts artifacts = new Artifacts(dataSource);
        byte[] same = "the same pixels".getBytes(StandardCharsets.UTF_8);
        byte[] other = "other pixels".getBytes(StandardCharsets.UTF_8);

        ClaimedJob first = claimComfy();
        List<ArtifactInfo> stored = artifacts.store(first.id(), first.leaseToken(), first.attempt(), List.of(
                NewArtifact.of("a_00001_.png", "image/png", same),
                NewArtifact.of("a_00002_.png", "image/png", other))).orElseThrow();
        assertThat(stored).extracting(ArtifactInfo::name).containsExactly("a_00001_.png", "a_00002_.png");
        assertThat(stored.get(0).sha256()).isEqualTo(Artifacts.sha256(same)).hasSize(64);
        assertThat(artifacts.find(stored.get(1).id()).orElseThrow().data()).isEqualTo(other);

        // collected again (an adopted run): the same rows
        assertThat(artifacts.store(first.id(), first.leaseToken(), first.attempt(),
                List.of(NewArtifact.of("a_00001_.png", "image/png", same))).orElseThrow())
                .extracting(ArtifactInfo::id).containsExactly(stored.get(0).id());

        // another job with the same bytes: a row of its own, no second blob
        ClaimedJob second = claimComfy();
        artifacts.store(second.id(), second.leaseToken(), second.attempt(),
                List.of(NewArtifact.of("b_00001_.png", "image/png", same))).orElseThrow();
        assertThat(inspect.count("select count(*) from artifact")).isEqualTo(3);
        assertThat(inspect.count("select count(*) from artifact_blob")).isEqualTo(2);

        // a stale lease stores nothing
        assertThat(artifacts.store(second.id(), UUID.randomUUID(), second.attempt(),
                List.of(NewArtifact.of("c.png", "image/png", "new".getBytes(StandardCharsets.UTF_8))))).isEmpty();
        assertThat(inspect.count("select count(*) from artifact_blob")).isEqualTo(2);
    }

    @Test
    void aBackendRefAndProgressAreRecordedOnlyByTheLeaseHolderAndComeBackWithTheNextClaim() {
        intake.insertBatch(batch(BatchMode.PARALLEL).retry(3, java.time.Duration.ZERO, 1.0)
                .jobs(1, 1, "comfyui.workflow", null).build());
        ClaimedJob job = claimComfy();
        assertThat(job.backendRef()).isNull();
        assertThat(outcomes.recordBackendRef(job.id(), UUID.randomUUID(), "stale")).isFalse();
        assertThat(outcomes.recordBackendRef(job.id(), job.leaseToken(), "2f3c1a9e-7b4d-4e8a-9c21-5d6f7e8a9b0c")).isTrue();
        outcomes.recordProgress(job.id(), job.leaseToken(), 0.35);
        assertThat(inspect.strings("select progress::text from job where id = ?", job.id())).containsExactly("0.35");

        outcomes.finish(List.of(new AttemptOutcome.HandBack(job.id(), job.leaseToken(), "executor shutting down")), null);
        ClaimedJob again = claimComfy();
        assertThat(again.backendRef()).as("the next attempt can adopt the run").isEqualTo("2f3c1a9e-7b4d-4e8a-9c21-5d6f7e8a9b0c");
    }
}
