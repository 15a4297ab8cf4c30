package dev.atelier.executor.config;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.time.Duration;
import java.util.Optional;

/**
 * How an executor holds its jobs (API.md, configuration). Mapped under {@code atelier.executor} only, so settings
 * meant for other services ({@code atelier.auth.*}) in a shared ConfigMap do not stop the executor.
 */
@ConfigMapping(prefix = "atelier.executor")
public interface ExecutorConfig {

    /** The executor's name in attempts and the ledger; host name plus a random suffix when unset. */
    Optional<String> id();

    /**
     * On Kubernetes: this executor's pod and namespace (from the downward API), so it can keep the pod's
     * {@code controller.kubernetes.io/pod-deletion-cost} at the number of jobs it runs. Unset elsewhere.
     */
    Optional<String> podName();

    Optional<String> podNamespace();

    /**
     * Where the executor LISTENs for new work and cancellations, when its datasource URL points at a PgBouncer in
     * transaction mode, which keeps no session: PostgreSQL itself. The datasource URL when unset.
     */
    Optional<String> listenUrl();

    /** Lease length; heartbeats renew it. */
    @WithDefault("PT30S")
    Duration lease();

    /** How often leases are renewed and the executor reports itself; a third of the lease by default. */
    @WithDefault("10s")
    Duration heartbeat();

    /** The claim loop polls this often (with jitter) when no NOTIFY wakes it. */
    @WithDefault("PT2S")
    Duration poll();

    /** How often maintenance runs: reaping expired leases, the model sweep, count folding, export numbering. */
    @WithDefault("5s")
    Duration reapInterval();

    /**
     * An executor that has not reported for this long (killed, its node lost: a clean stop removes it at once) is
     * removed from the registry, with its backends. At least two leases.
     */
    @WithDefault("P1D")
    Duration forgetAfter();

    /** A job whose model no live executor offers fails after waiting this long. */
    @WithDefault("PT60S")
    Duration modelGrace();

    /** On shutdown, running jobs get this long to finish before they are handed back. */
    @WithDefault("PT20S")
    Duration shutdownGrace();

    /**
     * A job handed back this many times in a row for a reason of its own (a model the backend lists but cannot
     * find, an I/O error on its files), while its backend passes its health checks, spends an attempt the next time.
     */
    @WithDefault("3")
    int handBackCap();

    /**
     * After its Ollama answered that a model does not fit (more memory than is available, out of memory), this
     * executor claims none of that model's jobs for this long, so a bigger box can take them.
     */
    @WithDefault("PT10M")
    Duration capacityPause();

    /**
     * Model affinity's bound (DESIGN.md, ordering): the executor prefers jobs for the models its Ollama has loaded, and
     * leaves jobs of a model another executor holds to that one, but a job that has waited this long goes by the
     * plain order, even if that means loading its model. {@code PT0S} turns affinity off.
     */
    @WithDefault("PT2M")
    Duration maxAffinityWait();
}
