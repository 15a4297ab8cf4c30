package dev.atelier.ledger.config;

import jakarta.enterprise.context.ApplicationScoped;
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

    /** How many lines an export reads per database round trip. */
    @ConfigProperty(name = "atelier.ledger.export-page", defaultValue = "1000")
    int exportPage;

    public Duration liveWindow() {
        return executorLease.multipliedBy(2);
    }

    public int exportPage() {
        return exportPage;
    }
}
