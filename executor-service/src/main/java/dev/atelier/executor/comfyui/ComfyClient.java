package dev.atelier.executor.comfyui;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atelier.executor.backend.CallFailure;
import dev.atelier.executor.config.BackendsConfig;
import jakarta.annotation.PostConstruct;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import dev.atelier.executor.service.CallControl;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.eclipse.microprofile.faulttolerance.CircuitBreaker;
import org.eclipse.microprofile.faulttolerance.Retry;

/**
 * ComfyUI's HTTP API (contracts/comfyui-api.md), called from a job's own thread. Connection failures are
 * {@link CallFailure.Unavailable} (hand the job back); a 400 on {@code /prompt} is {@link CallFailure.Rejected}
 * (the workflow itself is wrong); other answers that are not 200 are {@link CallFailure.Failed}.
 *
 * Reads are retried a few times when ComfyUI cannot be reached; a submit is not (a retry could queue the same run
 * twice: the next attempt looks for the run instead and adopts it). The breaker counts only ComfyUI's own faults.
 */
@ApplicationScoped
public class ComfyClient {

    @Inject
    BackendsConfig config;

    @Inject
    ObjectMapper json;

    private HttpClient http;
    /** What the last health check read; until then, taken as recent. */
    private volatile ComfyVersion version = ComfyVersion.parse(null);

    /** What {@code GET /queue} says: the prompt ids running now and those waiting. */
    public record Queue(List<String> running, List<String> pending) {
        public boolean holds(String promptId) {
            return running.contains(promptId) || pending.contains(promptId);
        }
    }

    /** A file from {@code /view}, saved to a temporary file as it arrived: its size, sha256 and type. */
    public record Download(Path file, long size, String sha256, String contentType) {
    }

    @PostConstruct
    void init() {
        // HTTP/1.1: the JDK would offer an h2c upgrade, and aiohttp before 3.10.2 drops the body of a request that
        // carries one (REALITY.md, ComfyUI 9)
        http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(config.comfyui().connectTimeout())
                .followRedirects(HttpClient.Redirect.NEVER).build();
    }

    /** The version the health check found, which decides how runs can be stopped. */
    public ComfyVersion version() {
        return version;
    }

    void version(ComfyVersion found) {
        version = found;
    }

    String baseUrl() {
        String url = config.comfyui().url();
        return url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
    }

    /**
     * {@code POST /prompt} with our own prompt id and this executor's client id. ComfyUI validates on its event loop,
     * which may be busy: the answer gets {@code submit-timeout}, and one that does not come in time means a busy
     * ComfyUI, not a missing one (the run may have been queued: the next attempt looks for it by its id).
     * <ul>
     *   <li>a 400 that only this box causes (a checkpoint or LoRA file it lacks, a custom node not installed) is
     *       {@link CallFailure.NotHere}; any other 400 is {@link CallFailure.Rejected};</li>
     *   <li>a 200 with {@code node_errors} would run with those outputs skipped: the run is taken out of the queue
     *       and the workflow rejected with ComfyUI's words;</li>
     *   <li>a 200 naming another {@code prompt_id} (a ComfyUI before 0.3.45) could never be followed: taken out
     *       of the queue, and rejected.</li>
     * </ul>
     */
    @CircuitBreaker(requestVolumeThreshold = 4, failureRatio = 0.75, delay = 5000, failOn = CallFailure.Unavailable.class)
    public void submit(String promptId, String clientId, JsonNode workflow) {
        ObjectNode body = json.createObjectNode();
        body.set("prompt", workflow);
        body.put("prompt_id", promptId);
        body.put("client_id", clientId);
        Duration timeout = config.comfyui().submitTimeout();
        HttpRequest request = HttpRequest.newBuilder(URI.create(baseUrl() + "/prompt")).timeout(timeout)
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body.toString())).build();
        HttpResponse<String> answer;
        try {
            answer = http.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (HttpTimeoutException e) {
            throw new CallFailure.Unavailable("ComfyUI took longer than " + timeout.toSeconds()
                    + " s to answer POST /prompt (atelier.backends.comfyui.submit-timeout): its event loop is busy", true, e);
        } catch (IOException e) {
            throw new CallFailure.Unavailable("ComfyUI at " + baseUrl() + " unreachable (POST /prompt): " + e, false, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CallFailure.Stopped("interrupted while submitting to ComfyUI");
        }
        if (answer.statusCode() == 400) {
            JsonNode error = read(answer.body());
            String message = ComfyErrors.validation(error);
            throw ComfyErrors.onlyThisBox(error) ? new CallFailure.NotHere(message) : new CallFailure.Rejected(message);
        }
        expectOk(answer, "POST /prompt");
        JsonNode accepted = read(answer.body());
        String queuedAs = accepted.path("prompt_id").asText(promptId);
        if (!queuedAs.equals(promptId)) {
            deletePending(queuedAs);
            throw new CallFailure.Rejected("ComfyUI queued the run as " + queuedAs + ", not as " + promptId
                    + ": it ignores the prompt_id Atelier chooses (ComfyUI before 0.3.45), so the run could never be"
                    + " followed; it was taken out of the queue");
        }
        if (accepted.path("node_errors").size() > 0) {
            deletePending(promptId);
            throw new CallFailure.Rejected(ComfyErrors.skippedOutputs(accepted));
        }
    }

    /** The run's history entry, or empty while it is queued, running, or unknown. */
    @Retry(retryOn = CallFailure.Unavailable.class, maxRetries = 3, delay = 300, jitter = 150)
    public Optional<JsonNode> history(String promptId) {
        HttpResponse<String> answer = send(get("/history/" + encode(promptId), null), "GET /history");
        expectOk(answer, "GET /history");
        JsonNode entry = read(answer.body()).get(promptId);
        return entry == null || entry.isNull() ? Optional.empty() : Optional.of(entry);
    }

    @Retry(retryOn = CallFailure.Unavailable.class, maxRetries = 3, delay = 300, jitter = 150)
    public Queue queue() {
        HttpResponse<String> answer = send(get("/queue", null), "GET /queue");
        expectOk(answer, "GET /queue");
        JsonNode body = read(answer.body());
        return new Queue(promptIds(body.get("queue_running")), promptIds(body.get("queue_pending")));
    }

    /** Takes a waiting run out of the queue; a running or unknown one is left alone (contracts 4). */
    public void deletePending(String promptId) {
        ObjectNode body = json.createObjectNode();
        body.putArray("delete").add(promptId);
        expectOk(send(post("/queue", body.toString()), "POST /queue"), "POST /queue");
    }

    /**
     * Interrupts this run if it is the one running, and nothing else: never other people's work (contracts 5). A
     * ComfyUI without {@link ComfyVersion#interruptsOneRun()} would stop anybody's run, so nothing is sent to it.
     *
     * @param versionSeen the version the caller judged by, so that a health check changing it meanwhile cannot make
     *                    the call and the caller's account of it disagree
     * @return whether the interrupt was sent; false leaves the run to finish
     */
    public boolean interrupt(String promptId, ComfyVersion versionSeen) {
        if (!versionSeen.interruptsOneRun()) {
            return false;
        }
        ObjectNode body = json.createObjectNode();
        body.put("prompt_id", promptId);
        expectOk(send(post("/interrupt", body.toString()), "POST /interrupt"), "POST /interrupt");
        return true;
    }

    /**
     * Fetches an output with {@code /view} into a temporary file, counting and hashing it as it arrives: never whole
     * in memory. A refused connection is ComfyUI's fault ({@link CallFailure.Unavailable}); a download that stalls
     * past {@code download-timeout} or breaks off is this job's files failing to move ({@link CallFailure.JobFiles});
     * a file over {@code maxBytes} fails the job ({@link CallFailure.Rejected}). The caller deletes the file.
     */
    @Retry(retryOn = CallFailure.Unavailable.class, maxRetries = 3, delay = 300, jitter = 150)
    public Download view(String filename, String subfolder, String type, long maxBytes, CallControl control) {
        String query = "filename=" + encode(filename) + "&subfolder=" + encode(subfolder == null ? "" : subfolder)
                + "&type=" + encode(type == null ? "output" : type);
        Duration timeout = config.comfyui().downloadTimeout();
        HttpRequest request = HttpRequest.newBuilder(URI.create(baseUrl() + "/view?" + query)).timeout(timeout).GET().build();
        Path file;
        try {
            file = Files.createTempFile("atelier-output-", ".part");
        } catch (IOException e) {
            throw new IllegalStateException("no room for a temporary file: " + e.getMessage(), e);
        }
        CompletableFuture<HttpResponse<Download>> call = http.sendAsync(request,
                info -> info.statusCode() == 200 ? new CappedDownload(file, maxBytes, filename,
                        info.headers().firstValue("Content-Type").orElse(null))
                        : HttpResponse.BodySubscribers.replacing(null));
        control.attach(call);
        try {
            HttpResponse<Download> answer = call.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            if (answer.statusCode() == 503) {
                throw new CallFailure.Unavailable("ComfyUI answered 503 to GET /view", true, null);
            }
            if (answer.statusCode() != 200) {
                throw new CallFailure.Failed("ComfyUI answered " + answer.statusCode() + " to GET /view for " + filename, null);
            }
            return answer.body();
        } catch (ExecutionException e) {
            deleteQuietly(file);
            Throwable cause = e.getCause();
            if (cause instanceof CallFailure failure) {
                throw failure;
            }
            if (cause instanceof java.net.ConnectException || cause instanceof java.net.http.HttpConnectTimeoutException) {
                throw new CallFailure.Unavailable("ComfyUI at " + baseUrl() + " unreachable (GET /view): " + cause, false, cause);
            }
            throw new CallFailure.JobFiles("the download of " + filename + " broke off: " + cause, cause);
        } catch (TimeoutException e) {
            call.cancel(true);
            deleteQuietly(file);
            throw new CallFailure.JobFiles("the download of " + filename + " took longer than "
                    + timeout.toSeconds() + " s (atelier.backends.comfyui.download-timeout)", e);
        } catch (InterruptedException | java.util.concurrent.CancellationException e) {
            deleteQuietly(file);
            throw new CallFailure.Stopped("the download of " + filename + " was stopped");
        } catch (RuntimeException e) {
            deleteQuietly(file);
            throw e;
        }
    }

    /**
     * Writes a body to a file as it arrives, with its size and sha256; over {@code maxBytes} it stops reading and
     * fails, so an output can never fill the disk or the heap.
     */
    private static final class CappedDownload implements HttpResponse.BodySubscriber<Download> {
        private final Path file;
        private final long maxBytes;
        private final String name;
        private final String contentType;
        private final CompletableFuture<Download> result = new CompletableFuture<>();
        private final MessageDigest sha256;
        private java.nio.channels.FileChannel out;
        private Flow.Subscription subscription;
        private long size;

        CappedDownload(Path file, long maxBytes, String name, String contentType) {
            this.file = file;
            this.maxBytes = maxBytes;
            this.name = name;
            this.contentType = contentType;
            try {
                this.sha256 = MessageDigest.getInstance("SHA-256");
            } catch (java.security.NoSuchAlgorithmException e) {
                throw new IllegalStateException("SHA-256 is part of every Java runtime", e);
            }
        }

        @Override
        public CompletionStage<Download> getBody() {
            return result;
        }

        @Override
        public void onSubscribe(Flow.Subscription subscription) {
            this.subscription = subscription;
            try {
                out = java.nio.channels.FileChannel.open(file, java.nio.file.StandardOpenOption.WRITE,
                        java.nio.file.StandardOpenOption.TRUNCATE_EXISTING);
                subscription.request(1);
            } catch (IOException e) {
                subscription.cancel();
                result.completeExceptionally(e);
            }
        }

        @Override
        public void onNext(List<ByteBuffer> buffers) {
            try {
                for (ByteBuffer buffer : buffers) {
                    size += buffer.remaining();
                    if (size > maxBytes) {
                        close();
                        // failed before the cancel, which would otherwise fail it first as a broken stream
                        result.completeExceptionally(new CallFailure.Rejected("ComfyUI output " + name + " is larger than "
                                + maxBytes + " bytes (atelier.artifacts.max-bytes)"));
                        subscription.cancel();
                        return;
                    }
                    sha256.update(buffer.duplicate());
                    while (buffer.hasRemaining()) {
                        out.write(buffer);
                    }
                }
                subscription.request(1);
            } catch (IOException e) {
                close();
                result.completeExceptionally(e);
                subscription.cancel();
            }
        }

        @Override
        public void onError(Throwable error) {
            close();
            result.completeExceptionally(error);
        }

        @Override
        public void onComplete() {
            close();
            result.complete(new Download(file, size, HexFormat.of().formatHex(sha256.digest()), contentType));
        }

        private void close() {
            try {
                if (out != null) {
                    out.close();
                }
            } catch (IOException ignored) {
                // the download failed or ended: nothing more is written
            }
        }
    }

    static void deleteQuietly(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException ignored) {
            // a temporary file; the OS cleans its temp dir
        }
    }

    /** {@code POST /upload/image} as an input file, replacing one of the same name; answers the stored name. */
    public String upload(String name, String contentType, byte[] data) {
        String boundary = "atelier-" + UUID.randomUUID();
        byte[] head = ("--" + boundary + "\r\nContent-Disposition: form-data; name=\"image\"; filename=\"" + name
                + "\"\r\nContent-Type: " + contentType + "\r\n\r\n").getBytes(StandardCharsets.UTF_8);
        byte[] tail = ("\r\n--" + boundary + "\r\nContent-Disposition: form-data; name=\"type\"\r\n\r\ninput\r\n--"
                + boundary + "\r\nContent-Disposition: form-data; name=\"overwrite\"\r\n\r\ntrue\r\n--" + boundary
                + "--\r\n").getBytes(StandardCharsets.UTF_8);
        HttpRequest request = HttpRequest.newBuilder(URI.create(baseUrl() + "/upload/image"))
                .timeout(config.comfyui().timeout())
                .header("Content-Type", "multipart/form-data; boundary=" + boundary)
                .POST(HttpRequest.BodyPublishers.ofByteArrays(List.of(head, data, tail))).build();
        HttpResponse<String> answer;
        try {
            answer = send(request, "POST /upload/image");
        } catch (CallFailure.Unavailable e) {
            if (e.getCause() instanceof java.net.ConnectException || e.getCause() instanceof java.net.http.HttpConnectTimeoutException) {
                throw e;
            }
            throw new CallFailure.JobFiles("the upload of " + name + " failed: " + e.getMessage(), e);
        }
        if (answer.statusCode() == 400) {
            throw new CallFailure.Rejected("ComfyUI refused the upload of " + name);
        }
        expectOk(answer, "POST /upload/image");
        return read(answer.body()).path("name").asText(name);
    }

    /** {@code GET /system_stats}, for the health check. */
    public JsonNode systemStats(Duration timeout) {
        HttpResponse<String> answer = send(get("/system_stats", timeout), "GET /system_stats");
        expectOk(answer, "GET /system_stats");
        return read(answer.body());
    }

    /** The checkpoint file names it can load ({@code GET /models/checkpoints}); empty where the route is missing. */
    public List<String> checkpoints(Duration timeout) {
        HttpResponse<String> answer = send(get("/models/checkpoints", timeout), "GET /models/checkpoints");
        if (answer.statusCode() == 404) {
            return List.of();
        }
        expectOk(answer, "GET /models/checkpoints");
        List<String> names = new ArrayList<>();
        read(answer.body()).forEach(n -> names.add(n.asText()));
        return names;
    }

    private HttpRequest get(String path, Duration timeout) {
        return HttpRequest.newBuilder(URI.create(baseUrl() + path))
                .timeout(timeout != null ? timeout : config.comfyui().healthTimeout()).GET().build();
    }

    private HttpRequest post(String path, String body) {
        return HttpRequest.newBuilder(URI.create(baseUrl() + path)).timeout(config.comfyui().healthTimeout())
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build();
    }

    private HttpResponse<String> send(HttpRequest request, String what) {
        try {
            return http.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (HttpTimeoutException e) {
            throw new CallFailure.Unavailable("ComfyUI at " + baseUrl() + " did not answer " + what + " in time", false, e);
        } catch (IOException e) {
            throw new CallFailure.Unavailable("ComfyUI at " + baseUrl() + " unreachable (" + what + "): " + e, false, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CallFailure.Unavailable("interrupted while calling ComfyUI", false, e);
        }
    }

    private static void expectOk(HttpResponse<String> answer, String what) {
        if (answer.statusCode() == 503) {
            throw new CallFailure.Unavailable("ComfyUI answered 503 to " + what, true, null);
        }
        if (answer.statusCode() != 200) {
            String body = answer.body() == null ? "" : answer.body();
            throw new CallFailure.Failed("ComfyUI answered " + answer.statusCode() + " to " + what
                    + (body.isBlank() ? "" : ": " + body.substring(0, Math.min(300, body.length()))), null);
        }
    }

    private JsonNode read(String body) {
        try {
            return body == null || body.isBlank() ? json.createObjectNode() : json.readTree(body);
        } catch (IOException e) {
            throw new CallFailure.Failed("ComfyUI answered something that is not JSON: "
                    + body.substring(0, Math.min(200, body.length())), e);
        }
    }

    // a queue item is [number, prompt_id, prompt, extra_data, outputs_to_execute] (contracts 3)
    private static List<String> promptIds(JsonNode items) {
        List<String> ids = new ArrayList<>();
        if (items != null) {
            items.forEach(item -> ids.add(item.path(1).asText()));
        }
        return ids;
    }

    private static String encode(String value) {
        return URLEncoder.encode(value, StandardCharsets.UTF_8);
    }
}
