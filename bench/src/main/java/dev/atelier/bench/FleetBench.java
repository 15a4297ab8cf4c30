package dev.atelier.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atelier.executor.backend.BackendState;
import dev.atelier.executor.service.AttemptTable;
import dev.atelier.executor.service.ClaimLoop;
import dev.atelier.executor.service.Backends;
import dev.atelier.executor.service.DedicatedConnection;
import dev.atelier.executor.service.JobRunner;
import dev.atelier.executor.service.Lifecycle;
import dev.atelier.store.BatchMode;
import dev.atelier.store.BlobStorage;
import dev.atelier.store.ExecutorRegistry;
import dev.atelier.store.JobIntake;
import dev.atelier.store.NewBatch;
import dev.atelier.store.testing.Batches;
import io.agroal.api.AgroalDataSource;
import io.agroal.api.configuration.supplier.AgroalDataSourceConfigurationSupplier;
import io.agroal.api.security.NamePrincipal;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import javax.sql.DataSource;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * The fleet (#23): N executors of one Ollama slot each, their loops wired as in production ({@link Lifecycle#assemble},
 * settings at their defaults: 30 s lease, 10 s heartbeat, 2 s poll, 5 s maintenance), all in this JVM with an
 * {@code atelier.executor.id} each, each with its own pool of 4 (the default) and a heartbeat and a LISTEN connection.
 * Their backend is a runner that takes exactly 2 s. Once every executor has reported and gone idle, one parallel batch of
 * 10 jobs per executor is committed; the figure is read from the database afterwards:
 * <ul>
 *   <li>late first jobs: executors whose first job started more than 100 ms after the commit, and when the last
 *       one's did;</li>
 *   <li>fleet utilisation: busy slot-seconds (jobs × 2 s) ÷ (slots × the wall time from the batch's commit to its
 *       last completion);</li>
 *   <li>idle turns: a slot that finished a job and started its next more than 100 ms later while jobs of the batch
 *       still waited unclaimed (the cost of a claim that came back short and then slept);</li>
 *   <li>turnaround p50 and p99: from a slot's job finishing to its next job starting, while jobs waited: the claim
 *       as a GPU sees it (the outcome stored, the wake-up, the claim statement);</li>
 *   <li>claims from the commit to the last completion ({@link ClaimLoop.Listener}): how many, how many came back
 *       short while others took the jobs they saw, and the claim's latency p50 and p99 (its transaction, as the
 *       executor waits for it);</li>
 *   <li>the attempt's overhead: its time from claim to stored outcome beyond the runner's 2 s, mean and p99;</li>
 *   <li>WAL per job: what PostgreSQL wrote from before the batch's commit to its last completion, per job;</li>
 *   <li>PostgreSQL connections: the most client sessions open at once (the fleet, the bench, the idle gateway and
 *       ledger), sampled every 100 ms, and how many were open before the fleet started.</li>
 * </ul>
 */
final class FleetBench {

    private static final Duration JOB = Duration.ofSeconds(2);
    private static final int JOBS_PER_SLOT = 10;
    /** The executor's pool at its default size; LISTEN and heartbeats have their own connections. */
    private static final int POOL = 4;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final String jdbcUrl;
    private final String poolUrl;
    private final boolean throughPgBouncer;

    /**
     * @param jdbcUrl          PostgreSQL: LISTEN, and the bench's own reads
     * @param poolUrl          where the executors' pools and heartbeats connect: PostgreSQL, or PgBouncer in front of it
     *                         (the gpu overlay's wiring)
     * @param throughPgBouncer whether {@code poolUrl} is PgBouncer (the figure's name says so)
     */
    FleetBench(String jdbcUrl, String poolUrl, boolean throughPgBouncer) {
        this.jdbcUrl = jdbcUrl;
        this.poolUrl = poolUrl;
        this.throughPgBouncer = throughPgBouncer;
    }

    void run(List<Integer> fleetSizes) throws Exception {
        for (int executors : fleetSizes) {
            Bench.awaitQuiet("fleet of " + executors);
            measure(executors);
        }
    }

    /** The claims of the whole fleet while its batch runs. */
    private static final class Claims implements ClaimLoop.Listener {
        volatile boolean recording;
        final ConcurrentLinkedQueue<Long> nanos = new ConcurrentLinkedQueue<>();
        final AtomicInteger outrun = new AtomicInteger();

        @Override
        public void claimed(Duration took, int sought, int got, boolean outrun) {
            if (recording) {
                nanos.add(took.toNanos());
                if (outrun) {
                    this.outrun.incrementAndGet();
                }
            }
        }

        double percentileMs(double p) {
            long[] sorted = nanos.stream().mapToLong(Long::longValue).sorted().toArray();
            return sorted.length == 0 ? 0 : sorted[(int) Math.max(0, Math.ceil(p * sorted.length) - 1)] / 1e6;
        }
    }

    private record Executor(Lifecycle lifecycle, Lifecycle.Parts parts, AgroalDataSource pool,
                            AgroalDataSource heartbeat, AgroalDataSource listen) {
    }

    private void measure(int size) throws Exception {
        String fleet = "fleet-" + size + "-" + UUID.randomUUID().toString().substring(0, 8);
        long baseline = connections();
        List<Executor> executors = new ArrayList<>();
        AtomicInteger peakConnections = new AtomicInteger();
        Claims claims = new Claims();
        try {
            for (int i = 0; i < size; i++) {
                executors.add(start(fleet + "-" + i, claims));
            }
            awaitIdle(fleet, size);
            Thread sampler = new Thread(() -> sampleConnections(peakConnections), "fleet-connections");
            sampler.setDaemon(true);
            sampler.start();
            NewBatch batch = Batches.batch(BatchMode.PARALLEL).name(fleet).ollamaJobs(size * JOBS_PER_SLOT, 1).build();
            claims.recording = true;
            String walBefore = Bench.walPosition(direct());
            new JobIntake(direct()).insertBatch(batch);
            awaitFinished(batch.id(), size * JOBS_PER_SLOT);
            claims.recording = false;
            long wal = Bench.walSince(direct(), walBefore);
            sampler.interrupt();
            report(size, batch.id(), peakConnections.get(), baseline, claims, wal);
        } finally {
            executors.parallelStream().forEach(FleetBench::stop);
        }
    }

    private Executor start(String executorId, ClaimLoop.Listener claims) {
        Clock clock = Clock.systemUTC();
        Backends backends = new Backends(executorId, Map.of("ollama", 1), Map.of("ollama", "http://ollama.fleet"));
        backends.state("ollama").checked(BackendState.Status.ONLINE, List.of(Batches.MODEL),
                List.of(new ExecutorRegistry.LoadedModel(Batches.MODEL, 1L << 30, null)), clock.instant(), "fleet bench");
        AttemptTable table = new AttemptTable(backends, new AttemptTable.BackendChecks() {
            @Override
            public boolean reachable(String kind, Instant since) {
                return true;
            }

            @Override
            public void refreshModels() {
            }
        }, new AttemptTable.Settings(Map.of("ollama", Duration.ofSeconds(5)), 3, Duration.ofMinutes(10)), clock, JSON);
        JobRunner twoSeconds = new JobRunner() {
            @Override
            public String kind() {
                return "ollama";
            }

            @Override
            public com.fasterxml.jackson.databind.node.ObjectNode run(dev.atelier.store.ClaimedJob job,
                                                                      dev.atelier.executor.service.CallControl control)
                    throws Exception {
                Thread.sleep(JOB.toMillis());
                return JSON.createObjectNode().put("text", "done");
            }
        };
        Lifecycle.Settings settings = new Lifecycle.Settings(Duration.ofSeconds(30), Duration.ofSeconds(10),
                Duration.ofSeconds(2), Duration.ofSeconds(5), Duration.ofSeconds(60), Duration.ofSeconds(5),
                Duration.ofMinutes(2), Duration.ofDays(1), null, null);
        AgroalDataSource pool = pool(executorId);
        AgroalDataSource heartbeat = DedicatedConnection.open(poolUrl, "postgres", null, Duration.ofSeconds(15),
                executorId + "-heartbeat");
        AgroalDataSource listen = DedicatedConnection.open(jdbcUrl, "postgres", null, Duration.ofSeconds(32),
                executorId + "-listen");
        Lifecycle.Parts parts = Lifecycle.assemble(pool, heartbeat, listen, backends, Map.of("ollama", twoSeconds), table,
                settings, clock, (job, finished, took) -> { }, claims, (what, rows) -> { }, BlobStorage.inPostgres());
        Lifecycle lifecycle = new Lifecycle(parts, settings, () -> { },
                () -> new ExecutorRegistry(pool).remove(executorId));
        lifecycle.start();
        return new Executor(lifecycle, parts, pool, heartbeat, listen);
    }

    /** The executor's pool as Quarkus builds it (Agroal), at its default size. */
    private AgroalDataSource pool(String executorId) {
        AgroalDataSourceConfigurationSupplier config = new AgroalDataSourceConfigurationSupplier()
                .connectionPoolConfiguration(pool -> pool.minSize(0).maxSize(POOL)
                        .acquisitionTimeout(Duration.ofSeconds(30))
                        .connectionFactoryConfiguration(factory -> factory.jdbcUrl(poolUrl)
                                .principal(new NamePrincipal("postgres"))
                                .jdbcProperty("ApplicationName", executorId)));
        return new io.agroal.pool.DataSource(config.get());
    }

    private static void stop(Executor executor) {
        try {
            executor.lifecycle().stop();
            executor.parts().running().close();
        } catch (Exception e) {
            System.out.println("(stopping an executor: " + e + ")");
        } finally {
            executor.pool().close();
            executor.heartbeat().close();
            executor.listen().close();
        }
    }

    private DataSource direct() {
        PGSimpleDataSource postgres = new PGSimpleDataSource();
        postgres.setUrl(jdbcUrl);
        postgres.setUser("postgres");
        return postgres;
    }

    /** Waits until every executor has reported (its first heartbeat) and a poll has passed, so all sleep. */
    private void awaitIdle(String fleet, int size) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (count("select count(*) from executor where id like ? || '-%'", fleet) < size) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("the fleet did not report within 60 s");
            }
            Thread.sleep(100);
        }
        Thread.sleep(3_000);
    }

    private void awaitFinished(UUID batch, int jobs) throws Exception {
        long deadline = System.nanoTime() + Duration.ofMinutes(5).toNanos();
        while (count("select count(*) from job where batch_id = ?::uuid and state = 'success'", batch.toString()) < jobs) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("the fleet's batch did not finish within 5 minutes");
            }
            Thread.sleep(200);
        }
    }

    private void sampleConnections(AtomicInteger peak) {
        try {
            while (!Thread.currentThread().isInterrupted()) {
                peak.accumulateAndGet((int) connections(), Math::max);
                Thread.sleep(100);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (SQLException e) {
            System.out.println("(connection sampling stopped: " + e.getMessage() + ")");
        }
    }

    /** PostgreSQL's client sessions: through PgBouncer, its server connections do not carry the executors' names. */
    private long connections() throws SQLException {
        return count("select count(*) from pg_stat_activity where backend_type = 'client backend'", null);
    }

    /** The first column of a query's first row, with at most one text parameter. */
    private long count(String sql, String parameter) throws SQLException {
        try (Connection c = direct().getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
            if (parameter != null) {
                ps.setString(1, parameter);
            }
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    private void report(int size, UUID batch, int peakConnections, long baseline, Claims claims, long wal)
            throws SQLException {
        try (Connection c = direct().getConnection(); PreparedStatement ps = c.prepareStatement(TURNS)) {
            ps.setObject(1, batch);
            ps.setObject(2, batch);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                double wall = rs.getDouble("wall_s");
                long jobs = rs.getLong("jobs");
                double utilisation = 100.0 * jobs * JOB.toMillis() / 1000.0 / (size * wall);
                Bench.figure(String.format("fleet, %d executors × 1 slot, %d jobs of 2 s%s", size, size * JOBS_PER_SLOT,
                                throughPgBouncer ? ", through PgBouncer" : ""),
                        String.format("utilisation %.1f %% (%.1f s, ideal %d s); first job %d executors late, the last"
                                        + " %.0f ms after the commit; idle turns while work waited %d of %d"
                                        + " (%.1f slot-s; by length in s: %s); turnaround p50 %.0f ms, p99 %.0f ms;"
                                        + " claims %d, short while others took the work %d, latency p50 %.1f ms, p99 %.1f ms;"
                                        + " attempt overhead mean %.0f ms, p99 %.0f ms; PostgreSQL's connections %d at most"
                                        + " (%d before the fleet); WAL %,d bytes a job (intake, claim, renewals, outcome)",
                                utilisation, wall, JOBS_PER_SLOT * JOB.toSeconds(), rs.getLong("late_firsts"),
                                rs.getDouble("last_first_ms"), rs.getLong("idle_turns"),
                                rs.getLong("turns"), rs.getDouble("idle_s"), rs.getString("idle_lengths"), rs.getDouble("p50_ms"),
                                rs.getDouble("p99_ms"), claims.nanos.size(), claims.outrun.get(), claims.percentileMs(0.5),
                                claims.percentileMs(0.99), rs.getDouble("overhead_ms"), rs.getDouble("overhead_p99_ms"),
                                peakConnections, baseline, wal / jobs),
                        "≥ 97 %, idle turns ≈ 0, p99 ≤ 50 ms");
            }
        }
    }

    /**
     * Per executor, each finished attempt and that executor's next start ("a turn"), kept while a job of the batch
     * was still unclaimed when the attempt finished.
     */
    private static final String TURNS = """
            with attempts as (
                select a.executor_id, a.started_at, a.finished_at,
                       lead(a.started_at) over (partition by a.executor_id order by a.started_at) as next_start
                from attempt a join job j on j.id = a.job_id
                where j.batch_id = ?
            ), turns as (
                select t.next_start - t.finished_at as gap
                from attempts t
                where t.next_start is not null
                  and exists (select 1 from attempts w where w.started_at > t.finished_at)
            ), firsts as (
                select min(started_at) as first_start from attempts group by executor_id
            )
            select (select count(*) from job where batch_id = b.id) as jobs,
                   (select count(*) from firsts where first_start > b.created_at + interval '100 milliseconds')
                       as late_firsts,
                   (select extract(epoch from max(first_start) - b.created_at) * 1000 from firsts) as last_first_ms,
                   extract(epoch from (select max(finished_at) from job where batch_id = b.id) - b.created_at) as wall_s,
                   (select count(*) from turns) as turns,
                   (select count(*) from turns where gap > interval '100 milliseconds') as idle_turns,
                   coalesce((select extract(epoch from sum(gap)) from turns where gap > interval '100 milliseconds'), 0)
                       as idle_s,
                   (select percentile_cont(0.5) within group (order by extract(epoch from gap) * 1000) from turns) as p50_ms,
                   (select percentile_cont(0.99) within group (order by extract(epoch from gap) * 1000) from turns) as p99_ms,
                   (select avg(extract(epoch from finished_at - started_at)) * 1000 - 2000 from attempts) as overhead_ms,
                   (select percentile_cont(0.99) within group (order by extract(epoch from finished_at - started_at) * 1000)
                    - 2000 from attempts) as overhead_p99_ms,
                   -- idle turns by length: how many up to 0.5 s, up to 1 s, ..., up to 3 s, and longer
                   (select coalesce(string_agg(n || '×' || case when s > 3 then '>3' else '≤' || s end, ' '), 'none')
                    from (select least(width_bucket(extract(epoch from gap), 0, 3, 6), 7) * 0.5 as s, count(*) as n
                          from turns where gap > interval '100 milliseconds' group by 1 order by 1) h) as idle_lengths
            from batch b where b.id = ?""";
}
