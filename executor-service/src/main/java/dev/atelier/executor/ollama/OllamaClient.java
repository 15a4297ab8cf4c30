package dev.atelier.executor.ollama;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atelier.executor.backend.CallFailure;
import dev.atelier.executor.service.CallControl;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import dev.atelier.store.ExecutorRegistry;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.eclipse.microprofile.faulttolerance.CircuitBreaker;
import org.eclipse.microprofile.faulttolerance.Retry;
import io.smallrye.faulttolerance.api.CircuitBreakerName;

/**
 * Ollama calls with fault tolerance (DESIGN.md, attempts). Every setting is tunable in configuration under
 * {@code quarkus.fault-tolerance."dev.atelier.executor.ollama.OllamaClient/generate".*}.
 * <ul>
 *   <li>{@code @Retry} only for the backend's own transient faults (refused, reset, 503 busy), briefly: a backend
 *       that stays down hands the job back instead of burning its attempts;</li>
 *   <li>{@code @CircuitBreaker} counts only those same faults, so a job that makes Ollama answer 500 does not pause
 *       the backend for every other job;</li>
 *   <li>the timeout is per job (its {@code timeout}), so it is applied here with Mutiny's {@code ifNoItem()}; the
 *       stream's idle timeout catches a hang long before that, without killing long healthy generations.</li>
 * </ul>
 */
@ApplicationScoped
public class OllamaClient {

    public static final String BREAKER = "ollama";

    @Inject
    OllamaHttp http;

    /**
     * Runs one generate or chat call to the end.
     *
     * @throws CallFailure how it failed
     * @throws CancellationException when {@code control} stopped it
     */
    @Retry(retryOn = CallFailure.Unavailable.class, maxRetries = 3, delay = 300, jitter = 150)
    @CircuitBreaker(failOn = CallFailure.Unavailable.class, requestVolumeThreshold = 4, failureRatio = 0.75,
            delay = 10_000, successThreshold = 1)
    @CircuitBreakerName(BREAKER)
    public OllamaReply generate(String path, String body, Duration timeout, Duration idle, CallControl control) {
        CompletableFuture<OllamaReply> call = http.post(path, body, idle)
                .ifNoItem().after(timeout)
                .failWith(() -> new CallFailure.Failed("timed out after " + timeout.toSeconds() + " s (the job's timeout)", null))
                .subscribeAsCompletionStage();
        control.attach(call);
        try {
            return call.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof CallFailure failure) {
                throw failure;
            }
            throw new CallFailure.Failed("the call to Ollama failed: " + e.getCause(), e.getCause());
        }
    }

    /** {@code GET /api/version}: the health check's first probe. */
    public String version(Duration timeout) {
        return await(http.get("/api/version", timeout)).path("version").asText("unknown");
    }

    /** {@code GET /api/tags}: the models this Ollama has, each also under its short name when its tag is latest. */
    public List<String> models(Duration timeout) {
        List<String> models = new ArrayList<>();
        for (JsonNode model : await(http.get("/api/tags", timeout)).path("models")) {
            String name = model.path("name").asText(model.path("model").asText(""));
            if (name.isEmpty()) {
                continue;
            }
            models.add(name);
            // "llama3.2" and "llama3.2:latest" name the same model (contracts 4: the tag defaults to latest)
            if (name.endsWith(":latest")) {
                models.add(name.substring(0, name.length() - ":latest".length()));
            }
        }
        return models;
    }

    /**
     * {@code GET /api/ps}: the models loaded in memory now, with the VRAM they use and when keep_alive lets them go
     * (contracts 3). An Ollama without the route answers 404: nothing is known to be loaded.
     */
    public List<ExecutorRegistry.LoadedModel> loaded(Duration timeout) {
        JsonNode ps;
        try {
            ps = await(http.get("/api/ps", timeout));
        } catch (CallFailure.ModelMissing notThere) {
            return List.of();
        }
        List<ExecutorRegistry.LoadedModel> loaded = new ArrayList<>();
        for (JsonNode model : ps.path("models")) {
            String name = model.path("name").asText(model.path("model").asText(""));
            if (!name.isEmpty()) {
                loaded.add(new ExecutorRegistry.LoadedModel(name, model.path("size_vram").asLong(0),
                        expiry(model.path("expires_at").asText(null))));
            }
        }
        return loaded;
    }

    private static Instant expiry(String text) {
        try {
            return text == null ? null : OffsetDateTime.parse(text).toInstant();
        } catch (java.time.format.DateTimeParseException e) {
            return null; // shown as unknown; never a reason to call Ollama unhealthy
        }
    }

    private static JsonNode await(io.smallrye.mutiny.Uni<JsonNode> uni) {
        try {
            return uni.subscribeAsCompletionStage().join();
        } catch (CompletionException e) {
            throw e.getCause() instanceof CallFailure failure ? failure
                    : new CallFailure.Unavailable(String.valueOf(e.getCause()), false, e.getCause());
        }
    }
}
