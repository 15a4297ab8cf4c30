package dev.atelier.bench;

import dev.atelier.store.BatchMode;
import dev.atelier.store.BatchViews.BatchFilter;
import dev.atelier.store.BatchViews.BatchState;
import dev.atelier.store.BatchViews;
import dev.atelier.store.ClaimedJob;
import dev.atelier.store.ExecutorRegistry;
import dev.atelier.store.JobClaims;
import dev.atelier.store.JobCounts;
import dev.atelier.store.JobIntake;
import dev.atelier.store.JobViews;
import dev.atelier.store.testing.Batches;
import dev.atelier.store.testing.ThreadBoundDataSource;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import org.flywaydb.core.Flyway;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * Flat as history grows: the hot reads timed on two databases of the bench's PostgreSQL, migrated as the services
 * migrate theirs. Both hold the same work, one batch of 10,000 pending jobs. "Empty" holds nothing else; "grown"
 * also holds 10,000 more open batches (10 pending jobs each, same priority: the claim takes turns among them) and
 * 1,000,000 finished jobs in 1,000 finished batches. Each figure is the median of its runs, store calls as the
 * services make them: the claim (100 Ollama slots; each run claims 100 jobs), the unfiltered summary counts (deltas
 * folded, as the executors' maintenance keeps them), the
 * batch list filtered to running batches, the oldest waiting job (the ledger's metrics) and the autoscaler's
 * claimable_jobs.
 */
final class HistoryBench {

    private static final int RUNS = 31;
    private static final int OPEN_BATCHES = 10_000;
    private static final int FINISHED_BATCHES = 1_000;
    private static final int FINISHED_PER_BATCH = 1_000;

    private HistoryBench() {
    }

    private record Timings(double claim, double summary, double runningList, double oldestWaiting,
                           double claimable) {
    }

    static void run(String jdbcUrl) throws Exception {
        Timings empty = measure(database(jdbcUrl, "history_empty"), false);
        Timings grown = measure(database(jdbcUrl, "history_grown"), true);
        String setting = String.format("%,d open batches + %,d finished jobs vs empty", OPEN_BATCHES,
                FINISHED_BATCHES * FINISHED_PER_BATCH);
        figure("claim of 100 jobs, " + setting, grown.claim(), empty.claim(), "≤ 2×");
        figure("summary counts, " + setting, grown.summary(), empty.summary(), "≤ 2×");
        figure("batch list state=running, " + setting, grown.runningList(), empty.runningList(), "—");
        figure("oldest waiting job, " + setting, grown.oldestWaiting(), empty.oldestWaiting(), "—");
        figure("claimable_jobs('ollama'), " + setting, grown.claimable(), empty.claimable(), "—");
    }

    private static void figure(String name, double grown, double empty, String target) {
        Bench.figure(name, String.format("%.2f ms vs %.2f ms (%.1f×)", grown, empty, grown / empty), target);
    }

    /** A fresh database of the bench's PostgreSQL, migrated as the services migrate theirs. */
    static PGSimpleDataSource database(String jdbcUrl, String name) throws Exception {
        try (Connection c = java.sql.DriverManager.getConnection(jdbcUrl, "postgres", "");
             Statement s = c.createStatement()) {
            s.execute("drop database if exists " + name);
            s.execute("create database " + name);
        }
        PGSimpleDataSource postgres = new PGSimpleDataSource();
        postgres.setUrl(jdbcUrl.replaceFirst("/[^/?]+(\\?|$)", "/" + name + "$1"));
        postgres.setUser("postgres");
        Flyway.configure().dataSource(postgres).locations("classpath:db/migration").load().migrate();
        return postgres;
    }

    private static Timings measure(PGSimpleDataSource postgres, boolean grown) throws Exception {
        long started = System.nanoTime();
        if (grown) {
            fillHistory(postgres);
        }
        try (ThreadBoundDataSource connections = new ThreadBoundDataSource(postgres)) {
            JobIntake intake = new JobIntake(connections);
            JobClaims claims = new JobClaims(connections);
            JobCounts counts = new JobCounts(connections);
            intake.insertBatch(Batches.batch(BatchMode.PARALLEL).priority(5).name("the work")
                    .ollamaJobs(10_000, 1).build());
            counts.compact();
            try (Connection c = connections.getConnection(); Statement s = c.createStatement()) {
                s.execute("vacuum analyze");
            }
            System.out.printf("history bench: %s database ready in %.0f s%n", grown ? "grown" : "empty",
                    (System.nanoTime() - started) / 1e9);
            BatchViews batches = new BatchViews(connections);
            JobViews jobs = new JobViews(connections, new ExecutorRegistry(connections));
            double claim = median(() -> {
                List<ClaimedJob> claimed = claims.claim("history-bench", Map.of("ollama", 100),
                        List.of(Batches.MODEL), Duration.ofMinutes(5), null);
                if (claimed.size() != 100) {
                    throw new IllegalStateException("the claim took " + claimed.size() + " jobs, not 100");
                }
                return claimed;
            });
            // as the executors' maintenance leaves the counts every few seconds: the deltas of the claims above folded
            counts.compact();
            double summary = median(() -> counts.byState(null, Map.of()));
            double runningList = median(() -> batches.list(new BatchFilter(Set.of(BatchState.RUNNING), Map.of()),
                    null, 50));
            double oldest = median(() -> jobs.oldestWaiting(List.of("ollama", "comfyui")));
            double claimable = median(() -> {
                try (Connection c = connections.getConnection(); Statement s = c.createStatement();
                     var rs = s.executeQuery("select claimable_jobs('ollama')")) {
                    rs.next();
                    return rs.getLong(1);
                }
            });
            return new Timings(claim, summary, runningList, oldest, claimable);
        }
    }

    /** 1,000 finished batches of 1,000 jobs (folded, as the executors' maintenance leaves them) and 10,000 open ones. */
    private static void fillHistory(PGSimpleDataSource postgres) throws Exception {
        try (Connection c = postgres.getConnection(); Statement s = c.createStatement()) {
            insertFinishedBatches(s, FINISHED_BATCHES, FINISHED_PER_BATCH);
            s.execute("""
                    insert into batch (id, name, mode, priority, max_attempts, retry_delay_ms, retry_backoff, job_count,
                                       created_at)
                    select gen_random_uuid(), 'open ' || b, 'parallel', 5, 3, 5000, 2.0, 10,
                           now() - interval '1 hour' + b * interval '1 millisecond'
                    from generate_series(1, %d) b""".formatted(OPEN_BATCHES));
            s.execute("""
                    insert into job (id, batch_id, position, key, priority, sequential, kind, type, model, model_key, spec,
                                     timeout_ms, max_attempts, created_at)
                    select gen_random_uuid(), b.id, g, 'job-' || g, 1, false, 'ollama', 'ollama.generate',
                           'deepseek-r1:32b', 'deepseek-r1:32b', '{"model": "deepseek-r1:32b", "prompt": "x"}', 600000,
                           3, b.created_at
                    from batch b cross join generate_series(0, 9) g
                    where b.name like 'open %'""");
        }
        new JobCounts(postgres).compact();
    }

    /**
     * Batches named "finished N" a day old, each with that many succeeded jobs, written straight into the tables
     * (their count deltas wait for a compaction).
     */
    static void insertFinishedBatches(Statement s, int batches, int jobsPerBatch) throws java.sql.SQLException {
        s.execute("""
                insert into batch (id, name, mode, priority, max_attempts, retry_delay_ms, retry_backoff, job_count,
                                   created_at)
                select gen_random_uuid(), 'finished ' || b, 'parallel', 5, 3, 5000, 2.0, %d,
                       now() - interval '1 day' + b * interval '1 second'
                from generate_series(1, %d) b""".formatted(jobsPerBatch, batches));
        s.execute("""
                insert into job (id, batch_id, position, key, priority, sequential, kind, type, model, model_key, spec,
                                 timeout_ms, state, attempt, attempts_used, max_attempts, started_at, finished_at,
                                 result, created_at)
                select gen_random_uuid(), b.id, g, 'job-' || g, 1, false, 'ollama', 'ollama.generate',
                       'deepseek-r1:32b', 'deepseek-r1:32b', '{"model": "deepseek-r1:32b", "prompt": "x"}', 600000,
                       'success', 1, 1, 3, b.created_at, b.created_at, '{"text": "done"}', b.created_at
                from batch b cross join generate_series(0, %d) g
                where b.name like 'finished %%'""".formatted(jobsPerBatch - 1));
    }

    /** The median time of {@link #RUNS} calls, in milliseconds, after three not timed. */
    private static double median(Callable<?> call) throws Exception {
        for (int i = 0; i < 3; i++) {
            call.call();
        }
        List<Double> times = new ArrayList<>();
        for (int i = 0; i < RUNS; i++) {
            long started = System.nanoTime();
            call.call();
            times.add((System.nanoTime() - started) / 1e6);
        }
        Collections.sort(times);
        return times.get(RUNS / 2);
    }
}
