package dev.atelier.ledger.service;

import dev.atelier.store.JobViews;
import io.quarkus.scheduler.Scheduled;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

/**
 * Whether anything the dashboard shows has changed, read once a second per ledger replica however many pages
 * listen: a fingerprint of the job counts, the export lines, and the executors' slots, drain and backends
 * (JobViews.CHANGE_FINGERPRINT). A heartbeat that changes nothing shown changes nothing here.
 */
@ApplicationScoped
public class LedgerPulse {

    private static final Logger LOG = Logger.getLogger(LedgerPulse.class);

    @Inject
    JobViews views;

    private volatile String fingerprint = "";

    /** What the last reading found; a new value means the pages should read again. */
    public String fingerprint() {
        return fingerprint;
    }

    @Scheduled(every = "${atelier.ledger.pulse:1s}", concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    public void runOnce() {
        try {
            fingerprint = views.changeFingerprint();
        } catch (RuntimeException e) {
            LOG.debugf("could not read the change fingerprint: %s", e.getMessage());
        }
    }
}
