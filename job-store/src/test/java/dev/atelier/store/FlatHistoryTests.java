package dev.atelier.store;

import static dev.atelier.store.testing.Batches.batch;
import static org.assertj.core.api.Assertions.assertThat;

import dev.atelier.store.BatchViews.BatchFilter;
import dev.atelier.store.BatchViews.BatchState;
import dev.atelier.store.BatchViews.BatchSummary;
import dev.atelier.store.testing.ThreadBoundDataSource;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import javax.sql.DataSource;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Hot reads that skip finished history (V12): the claim walks only open batches (batch_turn) and stops once enough
 * have offered work; totals answer the unfiltered counts; a finished batch's end is stored for the batch list; the
 * oldest waiting job is found among open batches. Each answer must equal what a scan of every job says.
 */
class FlatHistoryTests extends QueueTestBase {

    JobCounts counts;
    BatchViews batches;
    JobViews jobs;

    @BeforeEach
    void views() {
        counts = new JobCounts(dataSource);
        batches = new BatchViews(dataSource);
        jobs = new JobViews(dataSource, new ExecutorRegistry(dataSource));
    }

    @Test
    void aBatchLeavesTheTurnsWhenItsLastJobEndsAndARetryByHandBringsItBack() {
        NewBatch b = batch(BatchMode.PARALLEL).ollamaJobs(2, 1).build();
        intake.insertBatch(b);
        assertThat(inTurn(b.id())).as("a new batch takes its turn").isTrue();
        List<ClaimedJob> claimed = claimOllama(2);
        succeed(claimed.subList(0, 1));
        counts.compact();
        assertThat(inTurn(b.id())).as("one job still runs").isTrue();
        assertThat(finishedState(b.id())).isNull();

        failForGood(claimed.subList(1, 2));
        counts.compact();
        assertThat(inTurn(b.id())).as("nothing open: the claim never reads it again").isFalse();
        assertThat(finishedState(b.id())).isEqualTo("failed");
        assertThat(inspect.count("select count(*) from batch where finished_at is not null")).isEqualTo(1);

        assertThat(control.retryJob(claimed.get(1).id())).isEqualTo(JobControl.Retry.RETRIED);
        assertThat(inTurn(b.id())).as("open again, at once").isTrue();
        assertThat(finishedState(b.id())).isNull();
        List<ClaimedJob> again = claimOllama(2);
        assertThat(again).extracting(ClaimedJob::id).containsExactly(claimed.get(1).id());
        succeed(again);
        counts.compact();
        assertThat(finishedState(b.id())).isEqualTo("success");

        control.cancelBatch(b.id(), null);
        assertThat(finishedState(b.id())).as("cancelling a finished batch makes it cancelled").isEqualTo("cancelled");
        assertThat(batches.find(b.id()).orElseThrow().state()).isEqualTo(BatchState.CANCELLED);
    }

    @Test
    void aBatchMarkedFinishedByARaceOpensAgainAtTheNextCompaction() {
        NewBatch b = batch(BatchMode.PARALLEL).ollamaJobs(1, 1).build();
        intake.insertBatch(b);
        failForGood(claimOllama(1));
        counts.compact();
        assertThat(finishedState(b.id())).isEqualTo("failed");
        // what a retry by hand that raced the compaction leaves: an open job in a batch stored as finished, no turn
        inspect.execute("update job set state = 'pending', finished_at = null, attempts_used = 0 where batch_id = ?",
                b.id());
        inspect.execute("delete from batch_turn where batch_id = ?", b.id());
        counts.compact();
        assertThat(finishedState(b.id())).isNull();
        assertThat(inTurn(b.id())).isTrue();
        assertThat(claimOllama(1)).hasSize(1);
    }

    @Test
    void aMixedBatchTakesATurnPerKindAndGetsThemAllBackWhenItOpensAgain() {
        NewBatch b = batch(BatchMode.PARALLEL).ollamaJobs(1, 1).jobs(1, 1, "comfyui.workflow", null).build();
        intake.insertBatch(b);
        assertThat(kindsInTurn(b.id())).containsExactly("comfyui", "ollama");
        ClaimedJob ollama = claimOllama(1).get(0);
        List<ClaimedJob> comfy = claims.claim(EXECUTOR, Map.of("comfyui", 1), List.of(), LEASE, null);
        failForGood(List.of(ollama, comfy.get(0)));
        counts.compact();
        assertThat(kindsInTurn(b.id())).isEmpty();

        // a retry of one kind's job: a dependent of the other kind may open with it, so every kind takes its turn
        assertThat(control.retryJob(ollama.id())).isEqualTo(JobControl.Retry.RETRIED);
        assertThat(kindsInTurn(b.id())).containsExactly("comfyui", "ollama");

        // the compaction mends a batch whose turns a race lost, for every kind too
        inspect.execute("delete from batch_turn where batch_id = ?", b.id());
        inspect.execute("update batch set finished_at = now(), finished_state = 'failed' where id = ?", b.id());
        counts.compact();
        assertThat(kindsInTurn(b.id())).containsExactly("comfyui", "ollama");
    }

    @Test
    void theClaimReadsOnlyAsManyOpenBatchesAsItNeeds() throws Exception {
        for (int i = 0; i < 200; i++) {
            intake.insertBatch(batch(BatchMode.PARALLEL).ollamaJobs(3, 1).build());
        }
        // one connection for the claim and the statistics: a backend flushes only its own
        try (ThreadBoundDataSource one = new ThreadBoundDataSource(dataSource)) {
            JobClaims onOneConnection = new JobClaims(one);
            try (Connection c = one.getConnection(); Statement s = c.createStatement()) {
                s.execute("analyze batch_turn");
            }
            long before = batchTurnRowsRead(one);
            assertThat(onOneConnection.claim(EXECUTOR, Map.of("ollama", 5), MODELS, LEASE, null)).hasSize(5);
            long read = batchTurnRowsRead(one) - before;
            // 5 slots: the walk in claim order stops after 13 batches have offered work (fewer would mean it did not
            // walk the index, more that it read every open batch)
            assertThat(read).as("batch_turn_order entries the claim read, of 200").isBetween(13L, 40L);
        }
    }

    @Test
    void totalsAgreeWithAScanOfEveryJobBeforeAndAfterCompaction() {
        NewBatch a = batch(BatchMode.PARALLEL).ollamaJobs(6, 1).ollamaJobs(3, 2).build();
        NewBatch c = batch(BatchMode.PARALLEL).jobs(4, 1, "comfyui.workflow", null).build();
        NewBatch d = batch(BatchMode.PARALLEL).ollamaJobs(2, 3).build();
        intake.insertBatch(a);
        intake.insertBatch(c);
        intake.insertBatch(d);
        assertTotalsMatchTheJobs();
        List<ClaimedJob> claimed = claimOllama(4);
        succeed(claimed.subList(0, 2));
        failForGood(claimed.subList(2, 3));
        control.cancelBatch(c.id(), null);
        assertTotalsMatchTheJobs();
        counts.compact();
        assertTotalsMatchTheJobs();
        succeed(claimOllama(3));
        inspect.execute("delete from batch where id = ?", d.id());
        counts.compact();
        assertTotalsMatchTheJobs();
        assertThat(inspect.count("select count(*) from job_total where jobs < 0")).isZero();
    }

    private void assertTotalsMatchTheJobs() {
        Map<JobState, Long> scanned = JobCounts.zeroCounts();
        Map<String, Long> groups = new HashMap<>();
        inspect.strings("select state || ' ' || priority || ' ' || kind from job where ?::uuid is null", null)
                .forEach(row -> {
                    String[] parts = row.split(" ");
                    scanned.merge(JobState.fromWire(parts[0]), 1L, Long::sum);
                    groups.merge(parts[1] + " " + parts[2] + " " + parts[0], 1L, Long::sum);
                });
        assertThat(counts.byState(null, Map.of())).isEqualTo(scanned);
        Map<String, Long> totals = new HashMap<>();
        counts.byGroup().forEach(g -> totals.put(g.priority() + " " + g.kind() + " " + g.state().wire(), g.jobs()));
        assertThat(totals).isEqualTo(groups);
        assertThat(counts.open()).isEqualTo(
                scanned.get(JobState.PENDING) + scanned.get(JobState.RUNNING) + scanned.get(JobState.RETRY));
    }

    @Test
    void theBatchListInSomeStatesIsTheFullListNarrowed() {
        NewBatch pending = batch(BatchMode.PARALLEL).priority(9).ollamaJobs(1, 1).build();
        NewBatch succeeded = batch(BatchMode.PARALLEL).ollamaJobs(1, 1).build();
        NewBatch failed = batch(BatchMode.PARALLEL).ollamaJobs(1, 1).build();
        NewBatch finishedUnfolded = batch(BatchMode.PARALLEL).ollamaJobs(1, 1).build();
        NewBatch running = batch(BatchMode.PARALLEL).ollamaJobs(2, 1).build();
        NewBatch cancelled = batch(BatchMode.PARALLEL).priority(9).ollamaJobs(2, 1).build();
        intake.insertBatch(succeeded);
        succeed(claimOllama(1));
        intake.insertBatch(failed);
        failForGood(claimOllama(1));
        counts.compact();
        intake.insertBatch(finishedUnfolded);
        succeed(claimOllama(1));
        intake.insertBatch(running);
        claimOllama(1);
        intake.insertBatch(pending);
        intake.insertBatch(cancelled);
        control.cancelBatch(cancelled.id(), null);

        List<BatchSummary> all = batches.list(new BatchFilter(Set.of(), Map.of()), null, 100);
        assertThat(all).hasSize(6);
        assertThat(stateOf(all, finishedUnfolded.id())).as("finished, not yet folded").isEqualTo(BatchState.SUCCESS);
        assertThat(stateOf(all, running.id())).isEqualTo(BatchState.RUNNING);
        for (Set<BatchState> states : List.of(Set.of(BatchState.PENDING), Set.of(BatchState.RUNNING),
                Set.of(BatchState.SUCCESS), Set.of(BatchState.FAILED), Set.of(BatchState.CANCELLED),
                Set.of(BatchState.SUCCESS, BatchState.RUNNING), EnumSet.allOf(BatchState.class))) {
            assertThat(batches.list(new BatchFilter(states, Map.of()), null, 100))
                    .as("state in %s", states)
                    .extracting(BatchSummary::id)
                    .containsExactlyElementsOf(all.stream().filter(s -> states.contains(s.state()))
                            .map(BatchSummary::id).toList());
        }
        // finished before a time (a prune's list): only batches settled as finished, with or without states
        java.time.Instant later = java.time.Instant.now().plusSeconds(3600);
        List<java.util.UUID> settled = all.stream().map(BatchSummary::id)
                .filter(id -> id.equals(succeeded.id()) || id.equals(failed.id())).toList();
        assertThat(batches.list(new BatchFilter(Set.of(), Map.of(), later), null, 100)).extracting(BatchSummary::id)
                .containsExactlyElementsOf(settled);
        assertThat(batches.list(new BatchFilter(EnumSet.allOf(BatchState.class), Map.of(), later), null, 100))
                .extracting(BatchSummary::id).containsExactlyElementsOf(settled);
        assertThat(batches.list(new BatchFilter(Set.of(BatchState.FAILED), Map.of(), later), null, 100))
                .extracting(BatchSummary::id).containsExactly(failed.id());
        assertThat(batches.list(new BatchFilter(Set.of(), Map.of(), java.time.Instant.now().minusSeconds(3600)),
                null, 100)).isEmpty();
        // pages: two at a time, resumed after the last id, in the same order
        Set<BatchState> some = Set.of(BatchState.SUCCESS, BatchState.FAILED, BatchState.PENDING);
        List<BatchSummary> first = batches.list(new BatchFilter(some, Map.of()), null, 2);
        List<BatchSummary> second = batches.list(new BatchFilter(some, Map.of()), first.get(1).id(), 2);
        assertThat(java.util.stream.Stream.concat(first.stream(), second.stream()).map(BatchSummary::id).toList())
                .containsExactlyElementsOf(all.stream().filter(s -> some.contains(s.state())).map(BatchSummary::id)
                        .limit(4).toList());
    }

    @Test
    void theOldestWaitingJobIsTheOneAScanOfEveryJobFinds() {
        assertThat(jobs.oldestWaiting(List.of("ollama", "comfyui"))).isEmpty();
        NewBatch old = batch(BatchMode.PARALLEL).ollamaJobs(1, 1).build();
        intake.insertBatch(old);
        claimOllama(1); // the oldest batch's only job runs: it waits no more
        intake.insertBatch(batch(BatchMode.PARALLEL).jobs(1, 1, "comfyui.workflow", null).build());
        intake.insertBatch(batch(BatchMode.PARALLEL).ollamaJobs(2, 1).build());
        intake.insertBatch(batch(BatchMode.PARALLEL).jobs(1, 1, "comfyui.workflow", null).ollamaJobs(1, 1).build());

        Map<String, Instant> oldest = jobs.oldestWaiting(List.of("ollama", "comfyui"));

        Map<String, Instant> scanned = new HashMap<>();
        for (String kind : List.of("ollama", "comfyui")) {
            inspect.strings("select to_char(min(created_at) at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') "
                    + "from job where state in ('pending', 'retry') and kind = '" + kind + "' and ?::uuid is null", null)
                    .forEach(t -> scanned.put(kind, Instant.parse(t)));
        }
        assertThat(oldest).isEqualTo(scanned).hasSize(2);
    }

    private static BatchState stateOf(List<BatchSummary> list, UUID id) {
        return list.stream().filter(s -> s.id().equals(id)).findFirst().orElseThrow().state();
    }

    private boolean inTurn(UUID batchId) {
        return inspect.count("select count(*) from batch_turn where batch_id = '" + batchId + "'") == 1;
    }

    private List<String> kindsInTurn(UUID batchId) {
        return inspect.strings("select kind from batch_turn where batch_id = ? order by kind", batchId);
    }

    private String finishedState(UUID batchId) {
        List<String> states = inspect.strings("select finished_state from batch where id = ?", batchId);
        return states.get(0);
    }

    /** Entries of batch_turn's claim-order index read so far, after this connection flushed its statistics. */
    private static long batchTurnRowsRead(DataSource connection) throws SQLException {
        try (Connection c = connection.getConnection(); Statement s = c.createStatement()) {
            s.execute("select pg_stat_force_next_flush()");
            s.execute("select pg_stat_clear_snapshot()");
            try (ResultSet rs = s.executeQuery(
                    "select idx_tup_read from pg_stat_user_indexes where indexrelname = 'batch_turn_order'")) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }
}
