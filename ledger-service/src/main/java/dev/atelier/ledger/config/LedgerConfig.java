package dev.atelier.ledger.config;

import dev.atelier.store.JobViews;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.time.Duration;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * The ledger's settings. Plain properties rather than a mapping of {@code atelier.*}: the ledger shares keys
 * with the other services (the executors' lease) and must not claim the whole namespace.
 */
@ApplicationScoped
public class LedgerConfig {

    /** The executors' lease (the executors' own key); an executor is live when it reported within two of them (API.md). */
    @ConfigProperty(name = "atelier.executor.lease", defaultValue = "PT30S")
    Duration executorLease;

    /** The executors' bound on model affinity (their own key), which waiting reasons quote. */
    @ConfigProperty(name = "atelier.executor.max-affinity-wait", defaultValue = "PT2M")
    Duration maxAffinityWait;

    /** The most lines an export page may hold: each of up to 32 streams keeps one page (~400 bytes a line) in memory. */
    public static final int MAX_EXPORT_PAGE = 10_000;

    /** How many lines an export reads per database round trip. */
    @ConfigProperty(name = "atelier.ledger.export-page", defaultValue = "2500")
    int exportPage;

    public Duration liveWindow() {
        return executorLease.multipliedBy(2);
    }

    /** What waiting reasons are judged by. */
    public JobViews.WaitingRules waitingRules() {
        return new JobViews.WaitingRules(liveWindow(), maxAffinityWait);
    }

    public int exportPage() {
        return exportPage;
    }

    /** A setting out of range stops the ledger at start, naming it, rather than at the first export. */
    void checkAtStart(@Observes StartupEvent start) {
        checkExportPage(exportPage);
    }

    static void checkExportPage(int lines) {
        if (lines < 1 || lines > MAX_EXPORT_PAGE) {
            throw new IllegalStateException("atelier.ledger.export-page is " + lines + "; it must be from 1 to "
                    + MAX_EXPORT_PAGE + " lines");
        }
    }
}
