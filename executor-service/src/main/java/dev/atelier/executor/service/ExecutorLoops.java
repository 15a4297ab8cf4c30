package dev.atelier.executor.service;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atelier.executor.config.BackendsConfig;
import dev.atelier.executor.config.ExecutorConfig;
import dev.atelier.executor.config.RetentionConfig;
import dev.atelier.executor.kubernetes.PodDeletionCost;
import dev.atelier.store.Artifacts;
import dev.atelier.store.ExecutorRegistry;
import io.agroal.api.AgroalDataSource;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.inject.Instance;
import jakarta.inject.Inject;
import java.time.Clock;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import javax.sql.DataSource;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

/**
 * Builds this executor's loops from configuration and CDI beans at startup, and stops them at shutdown. It holds no
 * logic of its own: see {@link Lifecycle} and the loops it starts.
 */
@ApplicationScoped
public class ExecutorLoops {

    private static final Logger LOG = Logger.getLogger(ExecutorLoops.class);

    @Inject
    DataSource dataSource;

    @Inject
    Backends backends;

    @Inject
    Instance<JobRunner> runnerBeans;

    @Inject
    ExecutorConfig config;

    @Inject
    BackendsConfig backendsConfig;

    @Inject
    RetentionConfig retention;

    @Inject
    BackendMonitor monitor;

    @Inject
    ExecutorMetrics metrics;

    @Inject
    Clock clock;

    @Inject
    ObjectMapper json;

    @Inject
    Artifacts artifacts;

    @ConfigProperty(name = "quarkus.datasource.jdbc.url")
    String jdbcUrl;

    @ConfigProperty(name = "quarkus.datasource.username")
    Optional<String> user;

    @ConfigProperty(name = "quarkus.datasource.password")
    Optional<String> password;

    private AgroalDataSource heartbeatSource;
    private AgroalDataSource listenSource;
    private volatile Lifecycle lifecycle;
    private volatile ClaimLoop claims;

    void onStart(@Observes StartupEvent event) {
        Map<String, JobRunner> runners = new LinkedHashMap<>();
        for (JobRunner runner : runnerBeans) {
            if (backends.slots().getOrDefault(runner.kind(), 0) > 0) {
                runners.put(runner.kind(), runner);
            }
        }
        AttemptTable table = new AttemptTable(backends, monitor, new AttemptTable.Settings(Map.of(
                "ollama", backendsConfig.ollama().busyPause(), "comfyui", backendsConfig.comfyui().busyPause()),
                config.handBackCap(), config.capacityPause()), clock, json);
        warnIfSlotsExceedOllamasParallelism();
        Lifecycle.Settings settings = Lifecycle.Settings.from(config, retention);
        // long enough for a loaded database, short enough to try again well within a lease
        Duration heartbeatTimeout = settings.lease().dividedBy(2);
        heartbeatSource = DedicatedConnection.open(jdbcUrl, user.orElse(null), password.orElse(null),
                heartbeatTimeout.compareTo(Duration.ofSeconds(2)) < 0 ? Duration.ofSeconds(2) : heartbeatTimeout,
                "atelier-heartbeat");
        // a wait for signals lasts a poll, so a read may take that long before it is given up for lost
        listenSource = DedicatedConnection.open(config.listenUrl().orElse(jdbcUrl), user.orElse(null),
                password.orElse(null), settings.poll().plusSeconds(30), "atelier-listen");
        Lifecycle.Parts parts = Lifecycle.assemble(dataSource, heartbeatSource, listenSource, backends, runners, table,
                settings, clock, metrics, metrics, metrics, artifacts.storage());
        metrics.watch(parts.running());
        claims = parts.claims();
        monitor.checkAll();
        monitor.whenClaimableAgain(claims::wake);
        PodDeletionCost deletionCost = config.podName().isPresent() && config.podNamespace().isPresent()
                ? PodDeletionCost.inCluster(config.podNamespace().get(), config.podName().get()) : null;
        Runnable afterHeartbeat = deletionCost == null ? () -> { } : () -> deletionCost.publish(parts.running().count());
        ExecutorRegistry registry = new ExecutorRegistry(dataSource);
        lifecycle = new Lifecycle(parts, settings, afterHeartbeat, () -> registry.remove(backends.executorId()));
        lifecycle.start();
        LOG.infof("executor %s serving %s", backends.executorId(), runners.keySet());
    }

    /** More slots than Ollama answers at once only queue inside Ollama, where their wait counts against their timeout. */
    private void warnIfSlotsExceedOllamasParallelism() {
        int slots = backendsConfig.ollama().slots();
        int parallel = backendsConfig.ollama().numParallel();
        if (slots > parallel) {
            LOG.warnf("atelier.backends.ollama.slots is %d but Ollama answers %d at once (OLLAMA_NUM_PARALLEL, told here as"
                    + " atelier.backends.ollama.num-parallel): %d of this executor's jobs can only wait in Ollama's own"
                    + " queue, their timeout running. Set both to the same number.", slots, parallel, slots - parallel);
        }
    }

    void onStop(@Observes ShutdownEvent event) throws InterruptedException {
        Lifecycle running = lifecycle;
        if (running != null) {
            running.stop();
        }
        if (heartbeatSource != null) {
            heartbeatSource.close();
        }
        if (listenSource != null) {
            listenSource.close();
        }
    }

    /** The executor's lifecycle; null before startup. */
    public Lifecycle lifecycle() {
        return lifecycle;
    }
}
