package dev.atelier.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.atelier.store.testing.Batches;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * Claimers woken together go for the same head jobs (#23). A claim looks past its slots, in order, so one that finds
 * the heads locked takes the next in line; and one that still comes back short while it saw work others held says so
 * ({@link JobClaims.Claim#outrun()}), so its executor looks again at once rather than a poll later.
 */
class OutrunClaimTests extends QueueTestBase {

    private JobClaims.Claim take(int slots, int lookPast) {
        return claims.take(EXECUTOR, Map.of("ollama", slots), JobClaims.Offer.models(MODELS), lookPast,
                JobClaims.newLeaseTokens(Map.of("ollama", slots)), LEASE, null);
    }

    /** Another claimer's transaction, still open, holding the first {@code count} jobs of the batch by position. */
    private Connection holdHeads(UUID batch, int count) throws Exception {
        Connection other = dataSource.getConnection();
        other.setAutoCommit(false);
        try (PreparedStatement ps = other.prepareStatement(
                "select id from job where batch_id = ? order by position limit ? for update")) {
            ps.setObject(1, batch);
            ps.setInt(2, count);
            ps.executeQuery().close();
        }
        return other;
    }

    private NewBatch batchOf(int jobs) {
        NewBatch batch = Batches.batch(BatchMode.PARALLEL).ollamaJobs(jobs, 1).build();
        intake.insertBatch(batch);
        return batch;
    }

    @Test
    void aClaimWhoseHeadsAreLockedTakesTheNextInLine() throws Exception {
        NewBatch batch = batchOf(5);
        try (Connection other = holdHeads(batch.id(), 2)) {
            JobClaims.Claim claim = take(1, JobClaims.LOOK_PAST);
            assertThat(claim.jobs()).extracting(ClaimedJob::id).containsExactly(batch.jobs().get(2).id());
            assertThat(claim.outrun()).as("it took all it had slots for").isFalse();
            other.rollback();
        }
    }

    @Test
    void aClaimThatSawOnlyLockedWorkSaysItWasOutrunAndLooksFurtherWhenAsked() throws Exception {
        NewBatch batch = batchOf(20);
        try (Connection other = holdHeads(batch.id(), 12)) {
            JobClaims.Claim shortClaim = take(2, 0);
            assertThat(shortClaim.jobs()).as("its share and no spare: the heads only, all held").isEmpty();
            assertThat(shortClaim.outrun()).isTrue();

            JobClaims.Claim further = take(2, 16);
            assertThat(further.jobs()).extracting(ClaimedJob::id)
                    .containsExactly(batch.jobs().get(12).id(), batch.jobs().get(13).id());
            assertThat(further.outrun()).isFalse();
            other.rollback();
        }
    }

    @Test
    void aShortClaimWithNoWorkLeftWasNotOutrun() throws Exception {
        NewBatch batch = batchOf(1);
        JobClaims.Claim claim = take(3, JobClaims.LOOK_PAST);
        assertThat(claim.jobs()).extracting(ClaimedJob::id).containsExactly(batch.jobs().get(0).id());
        assertThat(claim.outrun()).as("it saw one job and took it").isFalse();

        JobClaims.Claim empty = take(1, JobClaims.LOOK_PAST);
        assertThat(empty.jobs()).isEmpty();
        assertThat(empty.outrun()).isFalse();
        assertThat(inspect.count("select count(*) from attempt")).isEqualTo(1);
    }

    @Test
    void jobsTakenAndCommittedByOthersDoNotCountAsOutrunningALaterClaim() {
        batchOf(2);
        List<ClaimedJob> first = claimOllama(2);
        assertThat(first).hasSize(2);
        assertThat(take(1, JobClaims.LOOK_PAST).outrun()).isFalse();
    }
}
