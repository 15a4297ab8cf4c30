package dev.atelier.bench;

import dev.atelier.launcher.LocalStack;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
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

    public static void main(String[] args) throws Exception {
        Path root = Path.of(args.length > 0 ? args[0] : ".").toAbsolutePath().normalize();
        Path data = Files.createTempDirectory("atelier-bench-");
        Map<String, Integer> ports = new LinkedHashMap<>();
        ports.put("gateway", freePort());
        ports.put("ledger", freePort());
        LocalStack stack = new LocalStack(new LocalStack.Settings(root, data, freePort(), ports, Map.of()),
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
        try {
            stack.start();
            IntakeBench.run("http://localhost:" + ports.get("gateway"));
            QueueBench.run(stack.jdbcUrl());
            LedgerBench.run("http://localhost:" + ports.get("ledger"), stack.jdbcUrl());
        } finally {
            stack.close();
            try (var files = Files.walk(data)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    /** The 1-minute load average, printed next to each figure: these machines are shared. */
    static String load() {
        try {
            List<String> parts = List.of(Files.readString(Path.of("/proc/loadavg")).split(" "));
            return "load " + parts.get(0);
        } catch (IOException e) {
            return "load n/a";
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }
}
