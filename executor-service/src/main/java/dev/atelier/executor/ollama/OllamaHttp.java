package dev.atelier.executor.ollama;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atelier.executor.backend.CallFailure;
import dev.atelier.executor.config.BackendsConfig;
import io.smallrye.mutiny.Uni;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The wire side of Ollama (contracts/ollama-api.md), on Vert.x's HTTP client because answers stream as NDJSON and a
 * cancelled job must close its connection (closing is Ollama's only cancel, contracts 8). Failures come out sorted
 * into {@link CallFailure}s; fault tolerance sits one level up, in {@link OllamaClient}.
 */
@ApplicationScoped
public class OllamaHttp {

    private final Vertx vertx;
    private final HttpClient client;
    private final String baseUrl;
    private final ObjectMapper json;

    OllamaHttp(Vertx vertx, BackendsConfig config, ObjectMapper json) {
        BackendsConfig.Ollama ollama = config.ollama();
        this.vertx = vertx;
        this.baseUrl = ollama.url().replaceAll("/+$", "");
        this.json = json;
        this.client = vertx.createHttpClient(new HttpClientOptions()
                .setConnectTimeout((int) ollama.connectTimeout().toMillis())
                .setMaxPoolSize(Math.max(4, ollama.slots() * 2 + 2)));
    }

    @PreDestroy
    void close() {
        client.close();
    }

    /**
     * POSTs {@code body} to {@code path} and gathers the answer, streamed or not. Cancelling the returned Uni
     * (a timeout, a cancel request) resets the connection, which is how Ollama learns to stop.
     *
     * <p>Waiting is not stalling (REALITY.md, Ollama 1 and 2): Ollama sends nothing at all, not even its status
     * line, while it loads the model, waits for a parallel slot or another model's requests, or reads a long
     * prompt; hanging up then aborts the load for every request waiting on it. So nothing here limits the wait for
     * the headers (the job's own timeout, one level up, does). Once they arrive, {@code idle} limits the time between
     * chunks, which is where a hung generation shows.
     *
     * @param idle fail when the answer stalls this long between chunks, after the headers; null for none (a
     *             non-streamed answer says nothing until it is done)
     */
    public Uni<OllamaReply> post(String path, String body, Duration idle) {
        return Uni.createFrom().emitter(emitter -> {
            AtomicBoolean answered = new AtomicBoolean();
            AtomicBoolean over = new AtomicBoolean();
            AtomicReference<HttpClientRequest> sending = new AtomicReference<>();
            AtomicReference<StallWatch> watch = new AtomicReference<>();
            // a timeout or a cancel ends the Uni early: close the connection, Ollama's only cancel
            emitter.onTermination(() -> {
                over.set(true);
                StallWatch stall = watch.get();
                if (stall != null) {
                    stall.stop();
                }
                HttpClientRequest request = sending.get();
                if (request != null && !answered.get()) {
                    request.reset();
                }
            });
            RequestOptions options = new RequestOptions().setMethod(HttpMethod.POST).setAbsoluteURI(baseUrl + path)
                    .putHeader("Content-Type", "application/json");
            client.request(options).onComplete(opened -> {
                if (opened.failed()) {
                    emitter.fail(sort(opened.cause(), false));
                    return;
                }
                HttpClientRequest request = opened.result();
                sending.set(request);
                if (over.get()) { // ended while connecting
                    request.reset();
                    return;
                }
                request.send(Buffer.buffer(body)).onComplete(sent -> {
                    if (sent.failed()) {
                        emitter.fail(sort(sent.cause(), false));
                        return;
                    }
                    HttpClientResponse response = sent.result();
                    if (response.statusCode() != 200) {
                        response.body().onComplete(errorBody -> {
                            answered.set(true);
                            emitter.fail(sortStatus(response.statusCode(),
                                    errorBody.succeeded() ? errorBody.result().toString() : ""));
                        });
                        return;
                    }
                    OllamaReply reply = new OllamaReply();
                    // failing ends the Uni, whose termination resets the connection: the stall is said first
                    StallWatch stall = new StallWatch(idle, () -> emitter.fail(new CallFailure.Failed(
                            "Ollama's stream stalled: no chunk for " + idle.toSeconds()
                                    + " s after the answer began (atelier.backends.ollama.idle-timeout)", null)));
                    watch.set(stall);
                    Lines lines = new Lines(line -> {
                        try {
                            reply.add(json.readTree(line));
                        } catch (java.io.IOException e) {
                            throw new CallFailure.Failed("Ollama sent a line that is not JSON: " + e.getMessage(), e);
                        }
                    });
                    response.handler(chunk -> {
                        stall.reset();
                        try {
                            lines.add(chunk);
                        } catch (CallFailure failure) {
                            emitter.fail(failure);
                        }
                    });
                    response.exceptionHandler(e -> emitter.fail(sort(e, true)));
                    response.endHandler(end -> {
                        stall.stop();
                        answered.set(true);
                        try {
                            lines.finish(); // a non-streamed answer is one object, without a newline
                        } catch (CallFailure failure) {
                            emitter.fail(failure);
                            return;
                        }
                        if (reply.done()) {
                            emitter.complete(reply);
                        } else {
                            emitter.fail(new CallFailure.Failed("Ollama's answer ended without a final (done) chunk", null));
                        }
                    });
                });
            });
        });
    }

    /** Fails a stream when no chunk arrives for {@code idle}; started by the headers, reset by every chunk. */
    private final class StallWatch {
        private final Duration idle;
        private final Runnable stalled;
        private long timer = -1;
        private boolean stopped;

        StallWatch(Duration idle, Runnable stalled) {
            this.idle = idle;
            this.stalled = stalled;
            reset();
        }

        synchronized void reset() {
            if (idle == null || stopped) {
                return;
            }
            if (timer >= 0) {
                vertx.cancelTimer(timer);
            }
            timer = vertx.setTimer(Math.max(1, idle.toMillis()), id -> fire(id));
        }

        private void fire(long id) {
            synchronized (this) {
                if (stopped || id != timer) {
                    return;
                }
                stopped = true;
            }
            stalled.run();
        }

        synchronized void stop() {
            stopped = true;
            if (timer >= 0) {
                vertx.cancelTimer(timer);
            }
        }
    }

    /** Splits an answer into lines as its chunks arrive; a line may span chunks. */
    private static final class Lines {
        private final java.util.function.Consumer<byte[]> onLine;
        private Buffer partial = Buffer.buffer();

        Lines(java.util.function.Consumer<byte[]> onLine) {
            this.onLine = onLine;
        }

        void add(Buffer chunk) {
            partial.appendBuffer(chunk);
            int start = 0;
            for (int i = 0; i < partial.length(); i++) {
                if (partial.getByte(i) == '\n') {
                    emit(partial.getBytes(start, i));
                    start = i + 1;
                }
            }
            partial = partial.getBuffer(start, partial.length());
        }

        void finish() {
            emit(partial.getBytes());
            partial = Buffer.buffer();
        }

        private void emit(byte[] line) {
            if (line.length > 0 && !new String(line, java.nio.charset.StandardCharsets.UTF_8).isBlank()) {
                onLine.accept(line);
            }
        }
    }

    /** GETs a small JSON document (version, tags) for the health check. */
    public Uni<JsonNode> get(String path, Duration timeout) {
        return Uni.createFrom().<JsonNode>emitter(emitter -> client
                        .request(new RequestOptions().setMethod(HttpMethod.GET).setAbsoluteURI(baseUrl + path)
                                .setIdleTimeout(timeout.toMillis()))
                        .compose(request -> request.send())
                        .compose(response -> response.body().map(body -> {
                            if (response.statusCode() != 200) {
                                throw sortStatus(response.statusCode(), body.toString());
                            }
                            try {
                                return json.readTree(body.getBytes());
                            } catch (java.io.IOException e) {
                                throw new CallFailure.Failed("GET " + path + " answered with something that is not JSON", e);
                            }
                        }))
                        .onComplete(done -> {
                            if (done.succeeded()) {
                                emitter.complete(done.result());
                            } else {
                                emitter.fail(done.cause() instanceof CallFailure f ? f : sort(done.cause(), false));
                            }
                        }))
                .ifNoItem().after(timeout).failWith(() -> new CallFailure.Failed("GET " + path + " timed out", null));
    }

    /** Sorts a transport error: unreachable before an answer is the backend's fault; a stall is the job's; a break after is judged by the runner. */
    private CallFailure sort(Throwable error, boolean answerStarted) {
        if (error instanceof CallFailure failure) {
            return failure;
        }
        if (error instanceof TimeoutException) {
            return new CallFailure.Failed("Ollama sent nothing for too long (" + error.getMessage() + ")", error);
        }
        String what = error.getClass().getSimpleName() + ": " + error.getMessage();
        boolean unreachable = error instanceof ConnectException || error instanceof NoRouteToHostException
                || error instanceof UnknownHostException;
        if (unreachable || !answerStarted) {
            return new CallFailure.Unavailable("Ollama at " + baseUrl + " is unreachable (" + what + ")", false, error);
        }
        return new CallFailure.Broken("the connection to Ollama broke during the answer (" + what + ")", error);
    }

    /**
     * Sorts an error status by contracts 7: 503 busy, 404 model missing, 400 the request, a 500 that says this box
     * cannot hold the model (REALITY.md, Ollama 6), anything else the job.
     */
    private CallFailure sortStatus(int status, String body) {
        String message = errorText(body);
        String detail = "HTTP " + status + " from Ollama: " + message;
        return switch (status) {
            case 503 -> new CallFailure.Unavailable(detail, true, null);
            case 404 -> new CallFailure.ModelMissing(detail);
            case 400 -> new CallFailure.Rejected(detail);
            case 500 -> isCapacity(message) ? new CallFailure.Capacity(message) : new CallFailure.Failed(detail, null);
            default -> new CallFailure.Failed(detail, null);
        };
    }

    /** Ollama's words for "this model does not fit here", across versions (0.12 and later). */
    static boolean isCapacity(String message) {
        String m = message.toLowerCase(java.util.Locale.ROOT);
        return m.contains("requires more system memory") || m.contains("unable to load full model")
                || m.contains("out of memory");
    }

    // {"error": "..."} on /api/*; plain text on unknown paths (contracts 0 and 7)
    private String errorText(String body) {
        try {
            JsonNode node = json.readTree(body);
            if (node != null && node.hasNonNull("error")) {
                return node.get("error").asText();
            }
        } catch (JsonProcessingException ignored) {
            // not JSON: use the text as it is
        }
        return body.strip();
    }
}
