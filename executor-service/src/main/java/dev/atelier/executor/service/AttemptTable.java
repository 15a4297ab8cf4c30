package dev.atelier.executor.service;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import dev.atelier.executor.backend.BackendState;
import dev.atelier.executor.backend.CallFailure;
import static dev.atelier.store.AttemptOutcome.HandBack.Effect.AVOID_EXECUTOR;
import static dev.atelier.store.AttemptOutcome.HandBack.Effect.COUNT;
import static dev.atelier.store.AttemptOutcome.HandBack.Effect.NONE;

import dev.atelier.store.AttemptOutcome;
import dev.atelier.store.ClaimedJob;
import dev.atelier.store.StorableText;
import dev.atelier.store.StoreException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Iterator;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CancellationException;
import org.eclipse.microprofile.faulttolerance.exceptions.CircuitBreakerOpenException;
import org.jboss.logging.Logger;

/**
 * DESIGN.md's attempt table, in one place: what a backend did becomes the job's next state. Runners only report,
 * with a result or a {@link CallFailure}; this decides whether the attempt is spent, whether the job is handed back
 * (and whether that counts toward the cap), and what the backend's state becomes.
 *
 * <table>
 *   <tr><th>what happened</th><th>outcome</th></tr>
 *   <tr><td>a result</td><td>success (text PostgreSQL refuses is replaced, and {@code cleaned} says where)</td></tr>
 *   <tr><td>the call was stopped</td><td>cancel: cancelled; shutdown: handed back; lease lost: nothing</td></tr>
 *   <tr><td>unreachable, or 503 after the retries; breaker open</td><td>handed back, backend offline or paused</td></tr>
 *   <tr><td>a 500 saying the model does not fit this box</td><td>handed back; this executor claims none of the
 *       model's jobs for a while (when every live executor refuses it, the model sweep fails the job)</td></tr>
 *   <tr><td>a 400 only this box causes (a checkpoint, LoRA or custom node it lacks)</td><td>handed back, and kept
 *       off this executor (when every live one keeps it off, the model sweep fails the job)</td></tr>
 *   <tr><td>404 for the model; this job's files failed to move</td><td>handed back and counted, while the backend
 *       passes a health check; past the cap, the attempt is spent</td></tr>
 *   <tr><td>cut mid-answer</td><td>backend still answers: spent; else handed back, backend offline</td></tr>
 *   <tr><td>400</td><td>failed at once</td></tr>
 *   <tr><td>500, error in the stream, timeout, anything else</td><td>spent, retried with backoff</td></tr>
 * </table>
 */
public final class AttemptTable {

    private static final Logger LOG = Logger.getLogger(AttemptTable.class);

    /** The health checks the table consults. */
    public interface BackendChecks {
        /** Whether the backend answers, by a check made after {@code since} (made now if there is none). */
        boolean reachable(String kind, Instant since);

        /** Reads every backend's models again, now. */
        void refreshModels();
    }

    /**
     * @param busyPause     per kind, how long claiming pauses after a busy answer or an open breaker
     * @param handBackCap   counted hand-backs in a row after which the next round spends an attempt
     * @param capacityPause how long this executor claims no job of a model its backend cannot load
     */
    public record Settings(Map<String, Duration> busyPause, int handBackCap, Duration capacityPause) {
    }

    private final Backends backends;
    private final BackendChecks checks;
    private final Settings settings;
    private final Clock clock;
    private final ObjectMapper json;

    public AttemptTable(Backends backends, BackendChecks checks, Settings settings, Clock clock, ObjectMapper json) {
        this.backends = backends;
        this.checks = checks;
        this.settings = settings;
        this.clock = clock;
        this.json = json;
    }

    /**
     * The runner came back with a result: a success, fenced like every outcome, even if the call was asked to stop
     * meanwhile (DESIGN.md, cancellation: a job that finished first keeps its result).
     */
    public Finished succeeded(ClaimedJob job, ObjectNode result) throws JsonProcessingException {
        if (result == null) {
            return failure(job, "executor error: the " + job.kind() + " runner returned no result", true);
        }
        Map<String, Integer> cleaned = new TreeMap<>();
        ObjectNode storable = result.objectNode();
        for (Iterator<Map.Entry<String, JsonNode>> fields = result.fields(); fields.hasNext(); ) {
            Map.Entry<String, JsonNode> field = fields.next();
            int[] count = {StorableText.unstorable(field.getKey())};
            String name = StorableText.clean(field.getKey());
            storable.set(name, storable(field.getValue(), count));
            if (count[0] > 0) {
                cleaned.merge(name, count[0], Integer::sum);
            }
        }
        if (!cleaned.isEmpty()) {
            // in a field of its own, never inside the text: a JSON answer must stay parseable
            ObjectNode note = storable.putObject("cleaned");
            cleaned.forEach(note::put);
            LOG.infof("job %s: replaced %s characters PostgreSQL cannot store with U+FFFD", job.id(), cleaned);
        }
        return new Finished.Outcome(new AttemptOutcome.Success(job.id(), job.leaseToken(), json.writeValueAsString(storable)));
    }

    /** The runner failed, or was stopped: what becomes of the job. */
    public Finished failed(ClaimedJob job, CallControl control, Throwable failure) {
        CallControl.StopReason stop = control.stopped();
        if (stop != null) {
            return stopped(job, stop, failure instanceof CallFailure.Stopped s ? s.getMessage() : null);
        }
        String kind = job.kind();
        BackendState backend = backends.state(kind);
        Instant now = clock.instant();
        if (failure instanceof CallFailure.Unavailable unavailable) {
            return unavailable(job, unavailable.getMessage(), unavailable.busy());
        } else if (failure instanceof CircuitBreakerOpenException) {
            backend.pause(now, now.plus(settings.busyPause().get(kind)), "circuit breaker open");
            return handBack(job, kind + " circuit breaker open on " + backends.executorId(), NONE);
        } else if (failure instanceof CallFailure.Capacity capacity) {
            // it repeats on every try here: leave the model to a bigger box for a while
            backend.refuse(job.model(), now.plus(settings.capacityPause()), capacity.getMessage());
            return handBack(job, kind + " on " + backends.executorId() + " cannot load model '" + job.model() + "': "
                    + capacity.getMessage(), NONE);
        } else if (failure instanceof CallFailure.ModelMissing) {
            backend.forget(job.model());
            checks.refreshModels(); // before anything else is claimed for that model
            return countedHandBack(job, now, "model '" + job.model() + "' is not on the Ollama of " + backends.executorId());
        } else if (failure instanceof CallFailure.NotHere notHere) {
            // another box may have what this one lacks
            return handBack(job, kind + " on " + backends.executorId() + " cannot run it: " + notHere.getMessage(),
                    AVOID_EXECUTOR);
        } else if (failure instanceof CallFailure.JobFiles files) {
            return countedHandBack(job, now, kind + " could not move this job's files on " + backends.executorId()
                    + ": " + files.getMessage());
        } else if (failure instanceof StoreException store && store.isTransient()) {
            // the run is done, its outputs wait in the backend (the next claim adopts the run); the database or the
            // object store did not take them now. Counted: a bucket that never answers must not loop forever.
            return countedHandBack(job, now, "could not store this job's outputs on " + backends.executorId() + ": "
                    + store.getMessage());
        } else if (failure instanceof CallFailure.Broken broken) {
            // whose fault depends on what follows: gone (a restart) is nobody's; still answering is the job's
            return checks.reachable(kind, now) ? failure(job, broken.getMessage(), true)
                    : unavailable(job, broken.getMessage(), false);
        } else if (failure instanceof CallFailure.Rejected rejected) {
            return failure(job, rejected.getMessage(), false);
        } else if (failure instanceof CallFailure.Failed failed) {
            return failure(job, failed.getMessage(), true);
        } else if (failure instanceof CallFailure.Stopped) {
            return new Finished.Abandoned(); // the runner found the lease gone: someone else runs the job now
        } else if (failure instanceof CancellationException) {
            return failure(job, "the call was cancelled", true);
        }
        LOG.errorf(failure, "job %s: the %s runner failed", job.id(), kind);
        return failure(job, "executor error: " + failure.getClass().getSimpleName() + ": " + failure.getMessage(), true);
    }

    private Finished stopped(ClaimedJob job, CallControl.StopReason stop, String note) {
        return switch (stop) {
            case CANCEL -> new Finished.Cancelled(job.leaseToken());
            case SHUTDOWN -> handBack(job, "executor shutting down" + (note == null ? "" : "; " + note), NONE);
            case LEASE_LOST -> new Finished.Abandoned();
        };
    }

    /** Unreachable or busy: nobody's fault. The backend is marked so, and claiming for it waits. */
    private Finished unavailable(ClaimedJob job, String message, boolean busy) {
        String kind = job.kind();
        Instant now = clock.instant();
        BackendState backend = backends.state(kind);
        if (busy) {
            backend.pause(now, now.plus(settings.busyPause().get(kind)), message);
        } else {
            backend.unreachable(now, message);
        }
        return handBack(job, kind + " " + (busy ? "busy" : "offline") + " on " + backends.executorId() + ": " + message,
                NONE);
    }

    /**
     * A hand-back for the job's own reason: counted while the backend passes its health check (else it is an
     * outage, not counted), and past the cap the attempt is spent instead, so a job cannot loop claim, hand back.
     */
    private Finished countedHandBack(ClaimedJob job, Instant failedAt, String reason) {
        if (!checks.reachable(job.kind(), failedAt)) {
            return unavailable(job, reason, false);
        }
        if (job.handBacksInRow() >= settings.handBackCap()) {
            return failure(job, reason + " (handed back " + job.handBacksInRow() + " times in a row while " + job.kind()
                    + " passed its health checks, so this attempt is spent)", true);
        }
        return handBack(job, reason, COUNT);
    }

    private static Finished handBack(ClaimedJob job, String reason, AttemptOutcome.HandBack.Effect effect) {
        LOG.infof("job %s handed back: %s", job.id(), reason);
        return new Finished.Outcome(new AttemptOutcome.HandBack(job.id(), job.leaseToken(), reason, effect));
    }

    private static Finished failure(ClaimedJob job, String error, boolean retryable) {
        return new Finished.Outcome(new AttemptOutcome.Failure(job.id(), job.leaseToken(), error, retryable));
    }

    /** {@code node} with every string (values and names) storable; adds to {@code count} how many characters changed. */
    private static JsonNode storable(JsonNode node, int[] count) {
        if (node.isTextual()) {
            int unstorable = StorableText.unstorable(node.textValue());
            count[0] += unstorable;
            return unstorable == 0 ? node : TextNode.valueOf(StorableText.clean(node.textValue()));
        } else if (node instanceof ObjectNode object) {
            ObjectNode copy = object.objectNode();
            object.fields().forEachRemaining(field -> {
                count[0] += StorableText.unstorable(field.getKey());
                copy.set(StorableText.clean(field.getKey()), storable(field.getValue(), count));
            });
            return copy;
        } else if (node instanceof ArrayNode array) {
            ArrayNode copy = array.arrayNode(array.size());
            array.forEach(item -> copy.add(storable(item, count)));
            return copy;
        }
        return node;
    }
}
