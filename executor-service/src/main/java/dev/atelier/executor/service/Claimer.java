package dev.atelier.executor.service;

import dev.atelier.store.ClaimedJob;
import dev.atelier.store.JobQueue;
import dev.atelier.store.StoreException;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.jboss.logging.Logger;

/**
 * Claims with lease tokens chosen here, so a claim whose answer was lost is not lost with it. When the connection
 * breaks around a claim's commit (a PostgreSQL restart, a network cut), the claim may have taken jobs that nobody
 * runs; left alone, their leases would run out and the reaper would spend an attempt of each. So the tokens of a
 * failed claim are kept, renewed by the heartbeat like held leases, and whatever jobs hold them are handed back,
 * without spending an attempt, as soon as the database answers again.
 */
final class Claimer {

    private static final Logger LOG = Logger.getLogger(Claimer.class);
    static final String UNCONFIRMED = "handed back: the database connection broke before the claim was confirmed";

    private final JobQueue queue;
    private final String executorId;
    private final Set<UUID> unconfirmed = ConcurrentHashMap.newKeySet();

    Claimer(JobQueue queue, String executorId) {
        this.queue = queue;
        this.executorId = executorId;
    }

    /** Claims for these free slots; when it fails, its tokens wait for {@link #handBackUnconfirmed()}. */
    List<ClaimedJob> claim(Map<String, Integer> freeSlots, Collection<String> models, Duration lease) {
        List<UUID> tokens = JobQueue.newLeaseTokens(freeSlots);
        try {
            return queue.claim(executorId, freeSlots, models, tokens, lease, null);
        } catch (StoreException e) {
            unconfirmed.addAll(tokens);
            throw e;
        }
    }

    /**
     * Hands back what failed claims took, if anything. Throws while the database is away; the tokens are kept.
     *
     * @return how many jobs were handed back
     */
    int handBackUnconfirmed() {
        if (unconfirmed.isEmpty()) {
            return 0;
        }
        Set<UUID> tokens = Set.copyOf(unconfirmed);
        int back = queue.handBackUnconfirmedClaim(tokens, UNCONFIRMED, null).size();
        unconfirmed.removeAll(tokens);
        if (back > 0) {
            LOG.infof("handed back %d jobs of a claim whose answer was lost", back);
        }
        return back;
    }

    /** The tokens of failed claims not yet settled: leases this executor may hold without knowing it. */
    Set<UUID> unconfirmed() {
        return Set.copyOf(unconfirmed);
    }
}
