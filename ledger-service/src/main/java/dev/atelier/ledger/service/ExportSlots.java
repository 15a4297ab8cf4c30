package dev.atelier.ledger.service;

import dev.atelier.api.Problem;
import dev.atelier.api.ProblemException;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * How many exports stream at once, per token and on this replica. Each export holds a worker thread while it
 * writes (and while a slow reader keeps it from writing, until {@code quarkus.http.idle-timeout} cuts it off), so a
 * script opening exports in a loop, or many {@code atelier export --follow}, could take every thread. Past a cap the
 * answer is a 429 with Retry-After; the dashboard never exports, so it is never refused.
 */
@ApplicationScoped
public class ExportSlots {

    /** A held slot; releasing it twice is harmless (the stream's end and the connection's close both do). */
    public interface Slot {
        void release();
    }

    @ConfigProperty(name = "atelier.ledger.exports-per-token", defaultValue = "4")
    int perToken;

    @ConfigProperty(name = "atelier.ledger.exports-per-replica", defaultValue = "32")
    int perReplica;

    private final Map<String, Integer> byToken = new HashMap<>();
    private int total;

    /** A slot for an export by this token (null when authentication is off: one shared name). */
    public synchronized Slot take(String token) {
        String holder = token == null ? "" : token;
        int held = byToken.getOrDefault(holder, 0);
        if (held >= perToken) {
            throw new ProblemException(Problem.of(429, held + " exports are streaming for "
                    + (token == null ? "this ledger" : "the token '" + token + "'") + ", the most one token may run at"
                    + " once (atelier.ledger.exports-per-token); send again when one has ended"));
        }
        if (total >= perReplica) {
            throw new ProblemException(Problem.of(429, total + " exports are streaming from this ledger replica, the"
                    + " most it runs at once (atelier.ledger.exports-per-replica); send again shortly"));
        }
        byToken.put(holder, held + 1);
        total++;
        AtomicBoolean released = new AtomicBoolean();
        return () -> {
            if (released.compareAndSet(false, true)) {
                give(holder);
            }
        };
    }

    private synchronized void give(String holder) {
        byToken.computeIfPresent(holder, (k, n) -> n <= 1 ? null : n - 1);
        total--;
    }

    /** Exports streaming now (for the metrics and tests). */
    public synchronized int streaming() {
        return total;
    }
}
