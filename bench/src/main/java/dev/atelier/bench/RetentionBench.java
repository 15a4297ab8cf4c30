package dev.atelier.bench;

import dev.atelier.store.AttemptOutcome;
import dev.atelier.store.AttemptOutcomes;
import dev.atelier.store.BatchDeletion;
import dev.atelier.store.BatchMode;
import dev.atelier.store.ClaimedJob;
import dev.atelier.store.JobClaims;
import dev.atelier.store.JobCounts;
import dev.atelier.store.JobIntake;
import dev.atelier.store.testing.Batches;
import dev.atelier.store.testing.ThreadBoundDataSource;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * Deleting while the queue works (issue #20): 1,000 finished batches of 100 jobs, each job with its attempt and each
 * batch with one 128 KB image of its own, are deleted one by one (as {@code atelier prune} or retention deletes them)
 * while intake stores a 100-job batch every 100 ms and a claimer claims and completes 10 jobs at a time. The claims'
 * latency during the deletions is set beside the same claims with intake alone, on a database of its own.
 */
final class RetentionBench {

    private static final int FINISHED_BATCHES = 1_000;
    private static final int JOBS_PER_BATCH = 100;
    private static final Duration BASELINE = Duration.ofSeconds(10);

    private RetentionBench() {
    }

    static void run(String jdbcUrl) throws Exception {
        PGSimpleDataSource postgres = HistoryBench.database(jdbcUrl, "retention_bench");
        fill(postgres);
        try (ThreadBoundDataSource connections = new ThreadBoundDataSource(postgres)) {
            JobIntake intake = new JobIntake(connections);
            intake.insertBatch(Batches.batch(BatchMode.PARALLEL).priority(5).name("the work")
                    .ollamaJobs(10_000, 1).build());
            try (Connection c = connections.getConnection(); Statement s = c.createStatement()) {
                s.execute("vacuum analyze");
            }
            List<UUID> finished = new ArrayList<>();
            try (Connection c = connections.getConnection(); Statement s = c.createStatement();
                 ResultSet rs = s.executeQuery("select id from batch where name like 'finished %' order by created_at")) {
                while (rs.next()) {
                    finished.add(rs.getObject(1, UUID.class));
                }
            }
            Bench.awaitQuiet("retention");
            List<Double> without = claimsWhile(connections, () -> Thread.sleep(BASELINE.toMillis()));
            BatchDeletion deletion = new BatchDeletion(connections);
            long[] took = new long[1];
            List<Double> during = claimsWhile(connections, () -> {
                long started = System.nanoTime();
                for (UUID batch : finished) {
                    if (!(deletion.delete(batch) instanceof BatchDeletion.Deleted)) {
                        throw new IllegalStateException("batch " + batch + " was not deleted");
                    }
                }
                took[0] = System.nanoTime() - started;
            });
            long left;
            try (Connection c = connections.getConnection(); Statement s = c.createStatement();
                 ResultSet rs = s.executeQuery("select (select count(*) from artifact_blob) + (select count(*) "
                         + "from attempt a join job j on j.id = a.job_id join batch b on b.id = j.batch_id "
                         + "where b.name like 'finished %')")) {
                rs.next();
                left = rs.getLong(1);
            }
            if (left != 0) {
                throw new IllegalStateException(left + " blobs or attempts of the deleted batches are left");
            }
            double seconds = took[0] / 1e9;
            Bench.figure(String.format("delete %,d batches x %d jobs + 1 image (128 KB), intake and claims running",
                            FINISHED_BATCHES, JOBS_PER_BATCH),
                    String.format("%.1f s = %.0f batches/s, %,.0f jobs/s", seconds, FINISHED_BATCHES / seconds,
                            FINISHED_BATCHES * JOBS_PER_BATCH / seconds), "—");
            Bench.figure("claim of 10 jobs during those deletions",
                    String.format("p50 %.2f ms, p99 %.2f ms (%d claims) vs p50 %.2f ms, p99 %.2f ms with intake alone"
                                    + " (%d): p99 %+.2f ms", pct(during, 0.5), pct(during, 0.99), during.size(),
                            pct(without, 0.5), pct(without, 0.99), without.size(),
                            pct(during, 0.99) - pct(without, 0.99)), "—");
        }
    }

    private interface Work {
        void run() throws Exception;
    }

    /** Claim latencies (ms) while {@code work} runs, with intake storing a 100-job batch every 100 ms. */
    private static List<Double> claimsWhile(ThreadBoundDataSource connections, Work work) throws Exception {
        AtomicBoolean done = new AtomicBoolean();
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            Future<List<Double>> claimer = pool.submit(() -> {
                JobClaims claims = new JobClaims(connections);
                AttemptOutcomes outcomes = new AttemptOutcomes(connections);
                List<Double> millis = new ArrayList<>();
                while (!done.get()) {
                    long started = System.nanoTime();
                    List<ClaimedJob> jobs = claims.claim("retention-bench", Map.of("ollama", 10),
                            List.of(Batches.MODEL), Duration.ofMinutes(5), null);
                    millis.add((System.nanoTime() - started) / 1e6);
                    outcomes.finish(jobs.stream().map(j -> (AttemptOutcome) new AttemptOutcome.Success(j.id(),
                            j.leaseToken(), "{\"text\": \"ok\"}")).toList(), null);
                    Thread.sleep(5);
                }
                return millis;
            });
            Future<?> intake = pool.submit(() -> {
                JobIntake store = new JobIntake(connections);
                JobCounts counts = new JobCounts(connections);
                int round = 0;
                while (!done.get()) {
                    store.insertBatch(Batches.batch(BatchMode.PARALLEL).priority(5).ollamaJobs(100, 1).build());
                    if (++round % 10 == 0) {
                        counts.compact(); // as the executors' maintenance does every few seconds
                    }
                    Thread.sleep(100);
                }
                return null;
            });
            try {
                work.run();
            } finally {
                done.set(true);
            }
            intake.get();
            return claimer.get();
        } finally {
            pool.shutdownNow();
        }
    }

    private static double pct(List<Double> values, double p) {
        List<Double> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        return sorted.get(Math.min(sorted.size() - 1, (int) Math.floor(p * sorted.size())));
    }

    /** The finished batches, their jobs and attempts, and one image of its own per batch, folded and settled. */
    private static void fill(PGSimpleDataSource postgres) throws Exception {
        long started = System.nanoTime();
        try (Connection c = postgres.getConnection(); Statement s = c.createStatement()) {
            HistoryBench.insertFinishedBatches(s, FINISHED_BATCHES, JOBS_PER_BATCH);
            s.execute("""
                    insert into attempt (job_id, attempt, lease_token, executor_id, status, started_at, finished_at)
                    select j.id, 1, gen_random_uuid(), 'bench', 'success', j.started_at, j.finished_at
                    from job j join batch b on b.id = j.batch_id where b.name like 'finished %'""");
            // 128 KB of its own per batch: 4,096 md5 digests of its id
            s.execute("""
                    insert into artifact_blob (sha256, size, data)
                    select encode(sha256(d.data), 'hex'), octet_length(d.data), d.data
                    from (select decode(string_agg(md5(b.id::text || g), '' order by g), 'hex') as data
                          from batch b cross join generate_series(1, 8192) g
                          where b.name like 'finished %' group by b.id) d""");
            s.execute("""
                    insert into artifact (id, job_id, attempt, name, content_type, size, sha256)
                    select gen_random_uuid(), j.id, 1, 'out_00001_.png', 'image/png', 131072,
                           encode(sha256(decode(string_agg(md5(b.id::text || g), '' order by g), 'hex')), 'hex')
                    from batch b join job j on j.batch_id = b.id and j.position = 0
                         cross join generate_series(1, 8192) g
                    where b.name like 'finished %'
                    group by j.id, b.id""");
        }
        new JobCounts(postgres).compact();
        System.out.printf("retention bench: database ready in %.0f s%n", (System.nanoTime() - started) / 1e9);
    }
}
