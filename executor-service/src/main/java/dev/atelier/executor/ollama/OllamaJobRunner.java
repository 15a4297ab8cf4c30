package dev.atelier.executor.ollama;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atelier.executor.backend.BackendState;
import dev.atelier.executor.backend.CallFailure;
import dev.atelier.executor.config.BackendsConfig;
import dev.atelier.executor.service.BackendMonitor;
import dev.atelier.executor.service.Backends;
import dev.atelier.executor.service.CallControl;
import dev.atelier.executor.service.Finished;
import dev.atelier.executor.service.JobRunner;
import dev.atelier.store.AttemptOutcome;
import dev.atelier.store.ClaimedJob;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CancellationException;
import org.eclipse.microprofile.faulttolerance.exceptions.CircuitBreakerOpenException;
import org.jboss.logging.Logger;

/**
 * Runs {@code ollama.generate} and {@code ollama.chat} jobs: the stored spec goes to Ollama as it is (model,
 * prompt or messages, system, options, format, think, keep_alive, images), and the answer becomes the job's result.
 */
@ApplicationScoped
public class OllamaJobRunner implements JobRunner {

    private static final Logger LOG = Logger.getLogger(OllamaJobRunner.class);

    @Inject
    OllamaClient client;

    @Inject
    BackendsConfig config;

    @Inject
    Backends backends;

    @Inject
    ObjectMapper json;

    @Inject
    BackendMonitor monitor;

    @Override
    public String kind() {
        return "ollama";
    }

    @Override
    public Finished run(ClaimedJob job, CallControl control) {
        BackendsConfig.Ollama ollama = config.ollama();
        BackendState backend = backends.state(kind());
        try {
            ObjectNode body = (ObjectNode) json.readTree(job.specJson());
            body.put("model", job.model());
            body.put("stream", ollama.stream());
            String path = "ollama.chat".equals(job.type()) ? "/api/chat" : "/api/generate";
            Duration timeout = job.timeout() == null || job.timeout().isZero() ? ollama.timeout() : job.timeout();
            OllamaReply reply = client.generate(path, json.writeValueAsString(body), timeout,
                    ollama.stream() ? ollama.idleTimeout() : null, control);
            return outcome(new AttemptOutcome.Success(job.id(), job.leaseToken(),
                    json.writeValueAsString(reply.toResult(json))));
        } catch (CancellationException e) {
            return stopped(job, control);
        } catch (CallFailure.Unavailable e) {
            if (control.stopped() != null) {
                return stopped(job, control);
            }
            return outcome(backends.handBack(kind(), job, e, ollama.busyPause()));
        } catch (CircuitBreakerOpenException e) {
            Instant now = Instant.now();
            backend.pause(now, now.plus(ollama.busyPause()), "circuit breaker open");
            return outcome(new AttemptOutcome.HandBack(job.id(), job.leaseToken(), "ollama circuit breaker open on "
                    + backends.executorId()));
        } catch (CallFailure.ModelMissing e) {
            backend.forget(job.model());
            monitor.checkAll(); // refresh the model list before anything else is claimed for it
            return outcome(new AttemptOutcome.HandBack(job.id(), job.leaseToken(), "model '" + job.model()
                    + "' is not on the Ollama of " + backends.executorId()));
        } catch (CallFailure.Rejected e) {
            return outcome(new AttemptOutcome.Failure(job.id(), job.leaseToken(), e.getMessage(), false));
        } catch (CallFailure.Broken e) {
            Instant brokeAt = Instant.now();
            if (control.stopped() != null) {
                return stopped(job, control);
            }
            if (!monitor.reachable(kind(), brokeAt)) { // Ollama went away mid-answer (a restart): not the job's fault
                return outcome(backends.handBack(kind(), job, new CallFailure.Unavailable(e.getMessage(), false, e),
                        ollama.busyPause()));
            }
            return outcome(new AttemptOutcome.Failure(job.id(), job.leaseToken(), e.getMessage(), true));
        } catch (CallFailure.Failed e) {
            if (control.stopped() != null) {
                return stopped(job, control);
            }
            return outcome(new AttemptOutcome.Failure(job.id(), job.leaseToken(), e.getMessage(), true));
        } catch (JsonProcessingException | RuntimeException e) {
            LOG.errorf(e, "job %s: unexpected error", job.id());
            return outcome(new AttemptOutcome.Failure(job.id(), job.leaseToken(),
                    "executor error: " + e.getClass().getSimpleName() + ": " + e.getMessage(), true));
        }
    }

    private static Finished outcome(AttemptOutcome outcome) {
        return new Finished.Outcome(outcome);
    }

    private static Finished stopped(ClaimedJob job, CallControl control) {
        CallControl.StopReason reason = control.stopped();
        if (reason == null) {
            return outcome(new AttemptOutcome.Failure(job.id(), job.leaseToken(), "the call was cancelled", true));
        }
        return switch (reason) {
            case CANCEL -> new Finished.Cancelled(job.leaseToken());
            case SHUTDOWN -> outcome(new AttemptOutcome.HandBack(job.id(), job.leaseToken(), "executor shutting down"));
            case LEASE_LOST -> new Finished.Abandoned();
        };
    }
}
