package dev.atelier.bench;

import dev.atelier.store.AttemptOutcome;
import dev.atelier.store.AttemptOutcomes;
import dev.atelier.store.ClaimedJob;
import dev.atelier.store.JobClaims;
import dev.atelier.store.JobCounts;
import dev.atelier.store.testing.ThreadBoundDataSource;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * The queue core: claim + complete throughput of job-store's own operations with a no-op handler (no HTTP), several
 * workers, each claiming up to 100 jobs per statement and completing them in one, over the jobs already queued
 * (the intake bench leaves 100,000). The figure compares with other PostgreSQL job queues.
 */
final class QueueBench {

    private static final int WORKERS = 4;
    private static final int CLAIM = 100;
    private static final List<String> MODELS = List.of("deepseek-r1:32b");

    private QueueBench() {
    }

    /** @param throughPgBouncer whether {@code jdbcUrl} goes through PgBouncer (the figure's name says so) */
    static void run(String jdbcUrl, boolean throughPgBouncer) throws Exception {
        PGSimpleDataSource postgres = new PGSimpleDataSource();
        postgres.setUrl(jdbcUrl);
        postgres.setUser("postgres");
        try (ThreadBoundDataSource connections = new ThreadBoundDataSource(postgres)) {
            JobClaims claims = new JobClaims(connections);
            AttemptOutcomes outcomes = new AttemptOutcomes(connections);
            long queued = new JobCounts(connections).open();
            Bench.awaitQuiet("queue core");
            AtomicLong done = new AtomicLong();
            ExecutorService pool = Executors.newFixedThreadPool(WORKERS);
            String walBefore = Bench.walPosition(postgres);
            long started = System.nanoTime();
            List<Future<?>> workers = new ArrayList<>();
            for (int w = 0; w < WORKERS; w++) {
                String executor = "bench-worker-" + w;
                workers.add(pool.submit(() -> {
                    List<ClaimedJob> jobs;
                    while (!(jobs = claims.claim(executor, Map.of("ollama", CLAIM), MODELS, Duration.ofSeconds(30), null)).isEmpty()) {
                        outcomes.finish(jobs.stream().map(j -> (AttemptOutcome) new AttemptOutcome.Success(j.id(),
                                j.leaseToken(), "{\"text\": \"ok\"}")).toList(), null);
                        done.addAndGet(jobs.size());
                    }
                    return null;
                }));
            }
            for (Future<?> worker : workers) {
                worker.get();
            }
            double seconds = (System.nanoTime() - started) / 1e9;
            double walPerJob = Bench.walSince(postgres, walBefore) / (double) Math.max(1, done.get());
            pool.shutdown();
            Bench.figure(String.format("queue core, %d workers, %d per claim, no-op%s", WORKERS, CLAIM,
                            throughPgBouncer ? ", through PgBouncer" : ""),
                    String.format("%,.0f jobs/s (%,d of %,d queued in %.1f s); WAL %,.0f bytes a job", done.get() / seconds,
                            done.get(), queued, seconds, walPerJob), "≥ 2 × Graphile Worker batching", done.get() / seconds,
                    PeerFigures::workThroughput, "jobs/s");
        }
    }
}
