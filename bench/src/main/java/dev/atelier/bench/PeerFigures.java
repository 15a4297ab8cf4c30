package dev.atelier.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.function.Predicate;
import java.util.stream.Stream;

/**
 * Graphile Worker's and pg-boss's figures from a run of {@code ../shared/peers/run-all.sh} on this machine (its JSON:
 * {@code graphile.json}, {@code pgboss.json}), printed beside Atelier's with the ratio. Speed claims are ratios
 * measured in one session, so the bench reads the newest run unless told which ({@code --peers=DIR}) and prints when
 * it ran and its load averages.
 */
final class PeerFigures {

    static final Path DEFAULT_RESULTS = Path.of("/tmp/peerbench/results");

    /** One peer's figure: what it is, its value, and the 1-minute load average at its start and end. */
    record Figure(String peer, String what, double value, double loadBefore, double loadAfter) {
    }

    private final Path run;
    private final JsonNode graphile;
    private final JsonNode pgBoss;

    private PeerFigures(Path run, JsonNode graphile, JsonNode pgBoss) {
        this.run = run;
        this.graphile = graphile;
        this.pgBoss = pgBoss;
    }

    /** The run in {@code dir}, or the newest one under /tmp/peerbench/results; empty when there is none. */
    static Optional<PeerFigures> read(Path dir) throws IOException {
        Path run = dir;
        if (run == null) {
            if (!Files.isDirectory(DEFAULT_RESULTS)) {
                return Optional.empty();
            }
            try (Stream<Path> runs = Files.list(DEFAULT_RESULTS)) {
                run = runs.filter(r -> Files.isRegularFile(r.resolve("graphile.json")))
                        .max(Comparator.comparing(PeerFigures::modified)).orElse(null);
            }
            if (run == null) {
                return Optional.empty();
            }
        }
        ObjectMapper json = new ObjectMapper();
        JsonNode graphile = Files.isRegularFile(run.resolve("graphile.json"))
                ? json.readTree(run.resolve("graphile.json").toFile()) : null;
        JsonNode pgBoss = Files.isRegularFile(run.resolve("pgboss.json"))
                ? json.readTree(run.resolve("pgboss.json").toFile()) : null;
        if (graphile == null && pgBoss == null) {
            throw new IOException(run + " holds neither graphile.json nor pgboss.json");
        }
        return Optional.of(new PeerFigures(run, graphile, pgBoss));
    }

    private static java.nio.file.attribute.FileTime modified(Path run) {
        try {
            return Files.getLastModifiedTime(run.resolve("graphile.json"));
        } catch (IOException e) {
            return java.nio.file.attribute.FileTime.fromMillis(0);
        }
    }

    String describe() {
        return "peers: " + run + " (" + modified(run) + ")";
    }

    /** The best draining work throughput of each peer: Graphile Worker with its batching on, and pg-boss. */
    List<Figure> workThroughput() {
        List<Figure> figures = new ArrayList<>();
        best(graphile, "Graphile Worker", t -> t.path("mode").asText().equals("batching")).ifPresent(figures::add);
        best(pgBoss, "pg-boss", t -> true).ifPresent(figures::add);
        return figures;
    }

    private static Optional<Figure> best(JsonNode peer, String name, Predicate<JsonNode> mode) {
        if (peer == null) {
            return Optional.empty();
        }
        JsonNode top = null;
        for (JsonNode t : peer.path("throughput")) {
            JsonNode result = t.path("result");
            // capped rows are a polling window, not a drain
            if (mode.test(t) && !"capped".equals(result.path("status").asText())
                    && (top == null || result.path("jobsPerSec").asDouble() > top.path("result").path("jobsPerSec").asDouble())) {
                top = t;
            }
        }
        if (top == null) {
            return Optional.empty();
        }
        JsonNode result = top.path("result");
        return Optional.of(new Figure(name, String.format("%s, concurrency %d, %d process(es)", top.path("mode").asText(),
                top.path("concurrency").asInt(), top.path("procs").asInt()), result.path("jobsPerSec").asDouble(),
                result.path("la0").path(0).asDouble(), result.path("la1").path(0).asDouble()));
    }

    /** Each peer's bulk enqueue of 20,000 jobs in one call, median jobs/s. */
    List<Figure> bulkEnqueue() {
        List<Figure> figures = new ArrayList<>();
        enqueue(graphile, "Graphile Worker").ifPresent(figures::add);
        enqueue(pgBoss, "pg-boss").ifPresent(figures::add);
        return figures;
    }

    private static Optional<Figure> enqueue(JsonNode peer, String name) {
        if (peer == null) {
            return Optional.empty();
        }
        JsonNode largest = null;
        for (JsonNode b : peer.path("bulkEnqueue")) {
            if (largest == null || b.path("chunk").asInt() > largest.path("chunk").asInt()) {
                largest = b;
            }
        }
        if (largest == null || largest.path("reps").isEmpty()) {
            return Optional.empty();
        }
        JsonNode reps = largest.path("reps");
        return Optional.of(new Figure(name, String.format("%,d jobs per call", largest.path("chunk").asInt()),
                largest.path("medianJobsPerSec").asDouble(), reps.path(0).path("la0").path(0).asDouble(),
                reps.path(reps.size() - 1).path("la1").path(0).asDouble()));
    }

    /** Each peer's lowest enqueue-to-start p99 into an idle worker, in ms. */
    List<Figure> idleLatencyP99() {
        List<Figure> figures = new ArrayList<>();
        latency(graphile, "Graphile Worker").ifPresent(figures::add);
        latency(pgBoss, "pg-boss").ifPresent(figures::add);
        return figures;
    }

    private static Optional<Figure> latency(JsonNode peer, String name) {
        if (peer == null) {
            return Optional.empty();
        }
        JsonNode best = null;
        for (JsonNode l : peer.path("latency")) {
            if (l.path("latencyMs").path("p99").isNumber() && (best == null
                    || l.path("latencyMs").path("p99").asDouble() < best.path("latencyMs").path("p99").asDouble())) {
                best = l;
            }
        }
        if (best == null) {
            return Optional.empty();
        }
        return Optional.of(new Figure(name, best.path("label").asText(), best.path("latencyMs").path("p99").asDouble(),
                best.path("la0").path(0).asDouble(), best.path("la1").path(0).asDouble()));
    }

    /**
     * Atelier's figure beside the peers': each peer's value, its load average, and Atelier ÷ peer (for a rate, above
     * 1 is Atelier ahead; for a latency, below 1 is).
     */
    static String beside(double atelier, List<Figure> peers, String unit) {
        if (peers.isEmpty()) {
            return "";
        }
        List<String> parts = new ArrayList<>();
        for (Figure peer : peers) {
            parts.add(String.format(peer.value() < 100 ? "%s %.1f %s ×%.2f (load %.2f→%.2f)"
                            : "%s %,.0f %s ×%.2f (load %.2f→%.2f)", peer.peer(), peer.value(), unit,
                    atelier / peer.value(), peer.loadBefore(), peer.loadAfter()));
        }
        return String.join("; ", parts);
    }
}
