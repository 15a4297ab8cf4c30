package dev.atelier.bench;

import dev.atelier.launcher.LocalStack;
import dev.atelier.store.testing.PgBouncer;
import dev.atelier.store.testing.PodJvm;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Prints Atelier's numbers for this machine. Starts the packaged gateway and ledger on a throwaway PostgreSQL with
 * durable settings (as the local run), with no executor, so nothing claims work while intake is measured.
 */
public final class Bench {

    private Bench() {
    }

    /**
     * An executor's JVM as deployed: its container has 512 MiB and its Deployment adds no JVM options, so it runs
     * with the image's defaults.
     */
    static final String EXECUTOR_JVM = "-XX:MaxRAM=512m " + PodJvm.IMAGE_COLLECTOR;

    /** The gateway's and the ledger's JVM options, from their manifests; the local stack gives both one set. */
    private static String gatewayAndLedgerJvm(Path root) {
        Path k8s = root.resolve("k8s/base");
        List<String> gateway = PodJvm.options(k8s, "gateway");
        if (!gateway.equals(PodJvm.options(k8s, "ledger"))) {
            throw new IllegalStateException("the gateway's and the ledger's manifests give their JVMs different options;"
                    + " the bench starts both with one set");
        }
        return String.join(" ", gateway);
    }

    public static void main(String[] args) throws Exception {
        // initdb and the server log every line through zonky; the services' log manager is on the class path
        System.setProperty("org.slf4j.simpleLogger.log.io.zonky", "warn");
        System.setProperty("java.util.logging.manager", "org.jboss.logmanager.LogManager");
        List<String> arguments = List.of(args);
        boolean profiled = arguments.contains("--profile");
        // --only=queue,cluster runs some of the figures (the queue core works through what intake left)
        List<String> only = arguments.stream().filter(a -> a.startsWith("--only=")).findFirst()
                .map(a -> List.of(a.substring("--only=".length()).split(","))).orElse(List.of());
        // --peers=DIR: a run of ../shared/peers/run-all.sh to print beside these figures (default: the newest one)
        peers = PeerFigures.read(arguments.stream().filter(a -> a.startsWith("--peers=")).findFirst()
                .map(a -> Path.of(a.substring("--peers=".length()))).orElse(null)).orElse(null);
        Path root = Path.of(arguments.stream().filter(a -> !a.startsWith("--")).findFirst().orElse("."))
                .toAbsolutePath().normalize();
        Path data = Files.createTempDirectory("atelier-bench-");
        Map<String, Integer> ports = new LinkedHashMap<>();
        ports.put("gateway", freePort());
        ports.put("ledger", freePort());
        LocalStack stack = new LocalStack(new LocalStack.Settings(root, data, freePort(), ports,
                        Map.of("JAVA_TOOL_OPTIONS", gatewayAndLedgerJvm(root))),
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
        // the fleet figure's 64 executors open up to 6 connections each (a pool of 4, heartbeat, LISTEN)
        stack.postgresSetting("max_connections", "800");
        if (profiled) {
            StatementProfile.configure(stack);
        }
        PgBouncer pgBouncer = null;
        try {
            stack.start();
            if (profiled) {
                profile = StatementProfile.start(stack.jdbcUrl());
            }
            if (arguments.contains("--pgbouncer")) {
                // the gpu overlay's pooler: transaction mode, 40 server connections
                pgBouncer = PgBouncer.start(stack.jdbcUrl(), "postgres", 40);
            }
            String gateway = "http://localhost:" + ports.get("gateway");
            String ledger = "http://localhost:" + ports.get("ledger");
            if (only.isEmpty() || only.contains("intake")) {
                IntakeBench.run(gateway);
            }
            if (only.isEmpty() || only.contains("queue")) {
                QueueBench.run(poolUrl(stack, pgBouncer), pgBouncer != null);
            }
            if (only.isEmpty() || only.contains("cluster")) {
                new ClusterBench(gateway, ledger, stack.jdbcUrl(), root, stack.servicePids()).run();
            }
            if (only.isEmpty() || only.contains("pipelines")) {
                new ClusterBench(gateway, ledger, stack.jdbcUrl(), root, stack.servicePids()).pipelines();
            }
            if (only.isEmpty() || only.contains("gpu")) {
                new ClusterBench(gateway, ledger, stack.jdbcUrl(), root, stack.servicePids()).gpuEfficiency();
            }
            if (only.isEmpty() || only.contains("fleet")) {
                // --fleet=16,64 measures some fleet sizes only
                List<Integer> sizes = arguments.stream().filter(a -> a.startsWith("--fleet=")).findFirst()
                        .map(a -> List.of(a.substring("--fleet=".length()).split(",")).stream()
                                .map(Integer::valueOf).toList())
                        .orElse(List.of(8, 16, 32, 64));
                new FleetBench(stack.jdbcUrl(), poolUrl(stack, pgBouncer), pgBouncer != null).run(sizes);
            }
            if (only.isEmpty() || only.contains("ledger")) {
                LedgerBench.run(ledger, stack.jdbcUrl(), root);
            }
            if (only.isEmpty() || only.contains("history")) {
                HistoryBench.run(stack.jdbcUrl());
            }
            if (only.isEmpty() || only.contains("retention")) {
                RetentionBench.run(stack.jdbcUrl());
            }
        } finally {
            printTable();
            if (pgBouncer != null) {
                pgBouncer.close();
            }
            stack.close();
            try (var files = Files.walk(data)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    /** Where the queue core's and the fleet's pools connect: PostgreSQL, or PgBouncer (--pgbouncer) in front of it. */
    private static String poolUrl(LocalStack stack, PgBouncer pgBouncer) {
        String direct = stack.jdbcUrl();
        String database = direct.substring(direct.lastIndexOf('/') + 1).split("\\?")[0];
        return pgBouncer == null ? direct : pgBouncer.jdbcUrl(database);
    }

    /** PostgreSQL's current WAL position, to measure what a figure wrote with {@link #walSince}. */
    static String walPosition(javax.sql.DataSource postgres) throws java.sql.SQLException {
        try (var c = postgres.getConnection(); var st = c.createStatement();
             var rs = st.executeQuery("select pg_current_wal_lsn()::text")) {
            rs.next();
            return rs.getString(1);
        }
    }

    /** Bytes of WAL PostgreSQL wrote since {@code position} (every session's, checkpoints' full pages included). */
    static long walSince(javax.sql.DataSource postgres, String position) throws java.sql.SQLException {
        try (var c = postgres.getConnection();
             var ps = c.prepareStatement("select pg_wal_lsn_diff(pg_current_wal_lsn(), ?::pg_lsn)::bigint")) {
            ps.setString(1, position);
            try (var rs = ps.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    private record Figure(String name, String value, String target, String load, String peers) {
    }

    private static final List<Figure> FIGURES = new ArrayList<>();
    private static StatementProfile profile;
    private static PeerFigures peers;

    /** Prints a figure as it is measured, and keeps it for the table at the end. */
    static void figure(String name, String value, String target) {
        figure(name, value, target, "");
    }

    /**
     * A figure that has counterparts in the peers' run: {@code peerFigures} picks them, and they are printed beside
     * it with the ratio Atelier ÷ peer ({@code atelier} is this figure in the peers' unit).
     */
    static void figure(String name, String value, String target, double atelier,
                       java.util.function.Function<PeerFigures, List<PeerFigures.Figure>> peerFigures, String unit) {
        figure(name, value, target, peers == null ? "" : PeerFigures.beside(atelier, peerFigures.apply(peers), unit));
    }

    private static void figure(String name, String value, String target, String besidePeers) {
        Figure figure = new Figure(name, value, target, load(), besidePeers);
        FIGURES.add(figure);
        System.out.printf("%s: %s (target %s; %s)%n", name, value, target, figure.load());
        if (!besidePeers.isEmpty()) {
            System.out.println("   peers, same session: " + besidePeers);
        }
        if (profile != null) {
            try {
                profile.print(name);
            } catch (java.sql.SQLException e) {
                System.out.println("-- no profile: " + e.getMessage());
            }
        }
    }

    private static void printTable() {
        int nameWidth = FIGURES.stream().mapToInt(f -> f.name().length()).max().orElse(10);
        int valueWidth = FIGURES.stream().mapToInt(f -> f.value().length()).max().orElse(10);
        int targetWidth = FIGURES.stream().mapToInt(f -> f.target().length()).max().orElse(6);
        int peersWidth = Math.max(5, FIGURES.stream().mapToInt(f -> f.peers().length()).max().orElse(5));
        String row = "| %-" + nameWidth + "s | %-" + valueWidth + "s | %-" + targetWidth + "s | %-8s | %-" + peersWidth
                + "s |%n";
        System.out.println();
        System.out.printf(row, "figure", "this machine", "target", "load avg", "peers (value, Atelier ÷ peer, load)");
        System.out.printf(row, "-".repeat(nameWidth), "-".repeat(valueWidth), "-".repeat(targetWidth), "-".repeat(8),
                "-".repeat(peersWidth));
        FIGURES.forEach(f -> System.out.printf(row, f.name(), f.value(), f.target(), f.load(), f.peers()));
        System.out.println(peers == null ? "peers: no run of ../shared/peers/run-all.sh found (--peers=DIR)"
                : peers.describe());
        System.out.printf("%d cores; PostgreSQL with fsync and synchronous_commit on%n",
                Runtime.getRuntime().availableProcessors());
    }

    /**
     * Waits, as the peers' harness does before each of its measurements ({@code waitQuiet} in
     * ../shared/peers/lib/common.js), until the machine is at most 25 % busy over a 2 s sample, or 60 s have passed:
     * a figure taken while the last one's writes are still being flushed and vacuumed measures that instead. Here the
     * whole machine counts (PostgreSQL and the services are this bench's, but idle ones cost next to nothing).
     */
    static void awaitQuiet(String label) throws InterruptedException {
        long started = System.nanoTime();
        int samples = 0;
        double busy;
        do {
            long[] before = cpuTicks();
            Thread.sleep(2_000);
            busy = busyPercent(before, cpuTicks());
            samples++;
        } while (busy > 25 && System.nanoTime() - started < 60_000_000_000L);
        if (samples > 1) {
            System.out.printf("(%s: waited %.0f s for the machine to quiet down, last sample %.0f %% busy)%n", label,
                    (System.nanoTime() - started) / 1e9, busy);
        }
    }

    /** How busy the whole machine was between two {@link #cpuTicks()} readings, in per cent. */
    static double busyPercent(long[] before, long[] after) {
        long total = after[0] - before[0];
        return total <= 0 ? 0 : 100.0 * (total - (after[1] - before[1])) / total;
    }

    /** All CPU ticks and the idle ones (idle + iowait), from /proc/stat's first line. */
    static long[] cpuTicks() {
        try {
            String[] fields = Files.readAllLines(Path.of("/proc/stat")).get(0).trim().split("\\s+");
            long total = 0;
            for (int i = 1; i < fields.length && i <= 8; i++) { // user .. steal; guest is already in user
                total += Long.parseLong(fields[i]);
            }
            return new long[] {total, Long.parseLong(fields[4]) + Long.parseLong(fields[5])};
        } catch (IOException e) {
            return new long[] {0, 0};
        }
    }

    /** The 1-minute load average, printed next to each figure: these machines are shared. */
    static String load() {
        try {
            List<String> parts = List.of(Files.readString(Path.of("/proc/loadavg")).split(" "));
            return parts.get(0);
        } catch (IOException e) {
            return "n/a";
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }
}
