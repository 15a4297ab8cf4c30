package dev.atelier.ledger.service;

import dev.atelier.ledger.config.LedgerConfig;
import dev.atelier.store.History;
import io.quarkus.scheduler.Scheduled;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.time.Clock;
import java.time.Duration;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

/**
 * Writes the dashboard's history once a minute (History, V21__history.sql): jobs finished in the minute that ended,
 * the queue by kind and each live executor's busy slots. Every ledger replica samples; the first to write a minute
 * keeps it. A failed sample leaves a gap in the charts and is logged; the next minute samples as usual.
 */
@ApplicationScoped
public class HistorySampler {

    private static final Logger LOG = Logger.getLogger(HistorySampler.class);

    @Inject
    History history;

    @Inject
    LedgerConfig config;

    /** How long points are kept; the dashboard shows at most the last 7 days. */
    @ConfigProperty(name = "atelier.ledger.history-keep", defaultValue = "P8D")
    Duration keep;

    Clock clock = Clock.systemUTC();

    /** One sample, of the minute before now's. */
    public int runOnce() {
        return history.sample(clock.instant(), config.liveWindow(), keep);
    }

    // a few seconds into each minute, so the lines of the minute that ended have committed
    @Scheduled(cron = "5 * * * * ?", concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    void sample() {
        try {
            runOnce();
        } catch (RuntimeException e) {
            LOG.warnf("could not sample the dashboard's history this minute: %s", e.getMessage());
        }
    }
}
