package dev.atelier.system;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atelier.fakes.FakeComfy;
import dev.atelier.fakes.FakeOllama;
import dev.atelier.store.testing.PgBouncer;
import dev.atelier.store.testing.PodJvm;
import dev.atelier.store.testing.ServiceProcess;
import dev.atelier.store.testing.TestPostgres;
import io.restassured.http.ContentType;
import io.restassured.specification.RequestSpecification;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The whole of Atelier as a studio runs it, each part a separate OS process: PostgreSQL, the packaged gateway and
 * ledger (prod profile, bearer tokens on, the JVM options and memory limit of their manifests), two packaged
 * executors each serving Ollama (4 slots) and ComfyUI (1 slot), and fakes of Ollama and ComfyUI. Tests talk to it over HTTP only, as users do. The executors' loops are
 * quick (3 s lease, 1 s heartbeat and reaping) so failures show and heal within seconds.
 */
final class Stack implements AutoCloseable {

    static final String SUBMIT_TOKEN = "system-submit-secret";
    static final String READ_TOKEN = "system-read-secret";
    static final String ADMIN_TOKEN = "system-admin-secret";
    /** A second submitter, whose batches a test may prune without touching the studio's. */
    static final String OTHER_SUBMIT_TOKEN = "system-other-submit-secret";
    static final Set<String> TERMINAL = Set.of("success", "failed", "cancelled");
    /** The manifests whose JVM options the services start with (PodJvm). */
    static final Path K8S_BASE = Path.of("..", "k8s", "base");
    /** The executors' lease (ATELIER_EXECUTOR_LEASE below). */
    static final Duration LEASE = Duration.ofSeconds(3);
    private static final ObjectMapper JSON = new ObjectMapper();

    final RestartablePostgres postgres;
    final FakeOllama ollama = new FakeOllama();
    final FakeComfy comfy = new FakeComfy();
    private final Map<String, ServiceProcess> services = new LinkedHashMap<>();
    /** Executors whose pool goes through {@link #pgbouncer}, as the gpu overlay's go through its Pooler. */
    private final Set<String> behindPgBouncer;
    /** PgBouncer in transaction mode, when some executors go through it. */
    PgBouncer pgbouncer;

    private Stack(RestartablePostgres postgres, Set<String> behindPgBouncer) {
        this.postgres = postgres;
        this.behindPgBouncer = behindPgBouncer;
    }

    /** Starts everything; {@code name} names the database's directory under {@code target/}. */
    static Stack start(String name, String... executorIds) throws Exception {
        return start(name, Set.of(), executorIds);
    }

    /** Starts everything, the executors named in {@code behindPgBouncer} connecting through PgBouncer. */
    static Stack start(String name, Set<String> behindPgBouncer, String... executorIds) throws Exception {
        Stack stack = new Stack(new RestartablePostgres(Path.of("target", "postgres-" + name)), behindPgBouncer);
        try {
            if (!behindPgBouncer.isEmpty()) {
                stack.pgbouncer = PgBouncer.start(stack.postgres.database());
            }
            stack.ollama.models("deepseek-r1:32b", "deepseek-coder:6.7b", "llama3.2:latest");
            stack.startService("gateway", Map.of());
            // the dashboard's actions go to the gateway through the ledger (atelier.ledger.gateway-url)
            stack.startService("ledger", Map.of("ATELIER_LEDGER_GATEWAY_URL", stack.service("gateway").url()));
            for (String id : executorIds) {
                stack.startExecutor(id);
            }
            return stack;
        } catch (Exception | Error e) {
            stack.close();
            throw e;
        }
    }

    /** Starts (or starts again, as Kubernetes would after a crash) the executor of this name. */
    void startExecutor(String id) throws IOException, InterruptedException {
        Map<String, String> env = new HashMap<>();
        env.put("ATELIER_EXECUTOR_ID", id);
        env.put("ATELIER_EXECUTOR_LEASE", LEASE.toString());
        env.put("ATELIER_EXECUTOR_HEARTBEAT", "1s");
        env.put("ATELIER_EXECUTOR_REAP_INTERVAL", "1s");
        env.put("ATELIER_EXECUTOR_POLL", "PT0.5S");
        env.put("ATELIER_EXECUTOR_SHUTDOWN_GRACE", "PT2S");
        env.put("ATELIER_BACKENDS_HEALTH_INTERVAL", "1s");
        env.put("ATELIER_BACKENDS_OLLAMA_URL", ollama.url());
        env.put("ATELIER_BACKENDS_OLLAMA_SLOTS", "4");
        env.put("ATELIER_BACKENDS_COMFYUI_URL", comfy.url());
        env.put("ATELIER_BACKENDS_COMFYUI_SLOTS", "1");
        env.put("ATELIER_BACKENDS_COMFYUI_POLL_INTERVAL", "PT0.3S");
        if (behindPgBouncer.contains(id)) {
            // as behind the gpu overlay's Pooler: the pool through PgBouncer, LISTEN and migrations straight to PostgreSQL
            TestPostgres.Database direct = postgres.database();
            env.put("QUARKUS_DATASOURCE_JDBC_URL", pgbouncer.jdbcUrl(direct.name()));
            env.put("ATELIER_EXECUTOR_LISTEN_URL", direct.jdbcUrl());
            env.put("QUARKUS_FLYWAY_JDBC_URL", direct.jdbcUrl());
            env.put("QUARKUS_FLYWAY_USERNAME", direct.username());
            // Quarkus wants both once Flyway has a URL of its own; the test server trusts any password
            env.put("QUARKUS_FLYWAY_PASSWORD", direct.password().isEmpty() ? "trusted" : direct.password());
        }
        services.put(id, ServiceProcess.start(id, jar("executor"), postgres.database(), "256m", env));
    }

    private void startService(String name, Map<String, String> extra) throws IOException, InterruptedException {
        Map<String, String> env = new HashMap<>(extra);
        env.put("ATELIER_AUTH_TOKENS", "studio:submit:" + sha256(SUBMIT_TOKEN) + ",wall:read:" + sha256(READ_TOKEN)
                + ",lead:admin:" + sha256(ADMIN_TOKEN) + ",contractor:submit:" + sha256(OTHER_SUBMIT_TOKEN));
        // the JVM its Deployment gives it: a body built to take the memory meets the same limits here as in a pod
        services.put(name, ServiceProcess.start(name, jar(name), postgres.database(), PodJvm.options(K8S_BASE, name), env));
    }

    private static Path jar(String service) {
        return Path.of("..", service + "-service", "target", "quarkus-app", "quarkus-run.jar");
    }

    ServiceProcess service(String name) {
        return services.get(name);
    }

    /** SIGKILL: the executor gets no chance to hand anything back. */
    void kill(String name) throws InterruptedException {
        services.remove(name).kill();
    }

    /**
     * Freezes (SIGSTOP) or thaws (SIGCONT) a service: frozen, it holds what it holds and does nothing. Java cannot
     * send those signals; the shell's built-in {@code kill} can, and needs no package.
     */
    void freeze(String name, boolean frozen) throws IOException, InterruptedException {
        String command = "kill -" + (frozen ? "STOP " : "CONT ") + services.get(name).pid();
        Process kill = new ProcessBuilder("sh", "-c", command).inheritIO().start();
        if (kill.waitFor() != 0) {
            throw new IllegalStateException(command + " (" + name + ") failed");
        }
    }

    /** The ids of the batch's jobs running on one executor. */
    List<String> jobsRunningOn(String batchId, String executor) {
        JsonNode items = json(ledger().queryParam("batch", batchId).queryParam("state", "running")
                .queryParam("limit", 100).get("/api/v1/jobs").then().statusCode(200).extract().asString()).path("items");
        List<String> jobs = new ArrayList<>();
        items.forEach(job -> {
            if (executor.equals(job.path("executor").asText())) {
                jobs.add(job.path("id").asText());
            }
        });
        return jobs;
    }

    /** The base URL of a service of the stack: {@code http://localhost:PORT}. */
    String url(String service) {
        return services.get(service).url();
    }

    RequestSpecification gateway() {
        return given().baseUri(services.get("gateway").url()).auth().oauth2(SUBMIT_TOKEN)
                .contentType(ContentType.JSON);
    }

    /** The gateway as the studio's lead, who writes the crews. */
    RequestSpecification admin() {
        return given().baseUri(services.get("gateway").url()).auth().oauth2(ADMIN_TOKEN)
                .contentType(ContentType.JSON);
    }

    /** The gateway as a second submitter (a contractor's pipeline). */
    RequestSpecification otherSubmitter() {
        return given().baseUri(services.get("gateway").url()).auth().oauth2(OTHER_SUBMIT_TOKEN)
                .contentType(ContentType.JSON);
    }

    RequestSpecification ledger() {
        return given().baseUri(services.get("ledger").url()).auth().oauth2(READ_TOKEN);
    }

    /** Submits a batch body through the gateway and returns the batch id. */
    String submit(Map<String, Object> batch) {
        return gateway().body(batch).post("/api/v1/batches").then().statusCode(201).extract().path("id");
    }

    /** Waits until the ledger shows the batch with every job terminal, and returns the batch. */
    JsonNode awaitTerminal(String batchId, Duration atMost) {
        JsonNode[] last = new JsonNode[1];
        await().atMost(atMost).pollInterval(Duration.ofMillis(500)).until(() -> {
            var answer = ledger().get("/api/v1/batches/" + batchId);
            if (answer.statusCode() == 503) {
                return false; // the database is away for a moment (the only acceptable failure)
            }
            last[0] = json(answer.then().statusCode(200).extract().asString());
            return TERMINAL.contains(last[0].path("state").asText());
        });
        return last[0];
    }

    /** Jobs of the batch in state {@code success}, as the ledger counts them now. */
    int succeeded(String batchId) {
        try {
            return ledger().get("/api/v1/batches/" + batchId).then().extract().path("status_counts.success");
        } catch (RuntimeException unavailable) {
            return -1;
        }
    }

    /** Every line of an export ({@code ledger} or {@code events}) for one batch. */
    List<JsonNode> export(String which, String batchId) {
        String body = ledger().queryParam("batch", batchId).get("/api/v1/exports/" + which + ".jsonl")
                .then().statusCode(200).extract().asString();
        List<JsonNode> lines = new ArrayList<>();
        for (String line : body.split("\n")) {
            if (!line.isBlank()) {
                lines.add(json(line));
            }
        }
        return lines;
    }

    /** Every job of a batch with its attempts, from the ledger's job detail. */
    List<JsonNode> jobs(String batchId) {
        List<JsonNode> jobs = new ArrayList<>();
        String after = null;
        do {
            RequestSpecification page = ledger().queryParam("batch", batchId).queryParam("limit", 500);
            if (after != null) {
                page = page.queryParam("after", after);
            }
            JsonNode answer = json(page.get("/api/v1/jobs").then().statusCode(200).extract().asString());
            answer.path("items").forEach(jobs::add);
            after = answer.path("next_after").isNull() ? null : answer.path("next_after").asText();
        } while (after != null);
        return jobs;
    }

    JsonNode job(String jobId) {
        return json(ledger().get("/api/v1/jobs/" + jobId).then().statusCode(200).extract().asString());
    }

    /** Every service answers ready, on its own (none was restarted by the test). */
    void awaitAllReady(Duration atMost) {
        await().atMost(atMost).pollInterval(Duration.ofMillis(500)).untilAsserted(() -> {
            for (ServiceProcess service : services.values()) {
                assertThat(service.isAlive()).as(service.name() + " alive").isTrue();
                assertThat(given().baseUri(service.url()).get("/q/health/ready").statusCode())
                        .as(service.name() + " ready").isEqualTo(200);
            }
        });
    }

    static JsonNode json(String text) {
        try {
            return JSON.readTree(text);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String sha256(String token) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                    .digest(token.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() throws Exception {
        List<ServiceProcess> stopping = new ArrayList<>(services.values());
        services.clear();
        for (ServiceProcess service : stopping) {
            service.stop();
        }
        ollama.close();
        comfy.close();
        if (pgbouncer != null) {
            pgbouncer.close();
        }
        postgres.close();
    }
}
