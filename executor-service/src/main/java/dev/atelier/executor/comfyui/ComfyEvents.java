package dev.atelier.executor.comfyui;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atelier.executor.service.Backends;
import io.quarkus.runtime.ShutdownEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/**
 * This executor's one websocket to ComfyUI ({@code /ws?clientId=<executor id>}, contracts 9). ComfyUI sends a run's
 * events only to the socket named by the run's {@code client_id}, so every run this executor submits reports here;
 * the events go to the run's listener by {@code prompt_id}. The socket is opened when a run needs it and opened
 * again after it drops; while it is down, runs finish through {@code /history} polling.
 */
@ApplicationScoped
public class ComfyEvents {

    private static final Logger LOG = Logger.getLogger(ComfyEvents.class);
    private static final Duration RECONNECT_AFTER = Duration.ofSeconds(2);

    /** What a run hears about itself. */
    public interface RunListener {
        /** The run left the queue and began ({@code execution_start}). */
        void started();

        /** A step of a long node: {@code value} of {@code max}. */
        void progress(String node, double value, double max);

        /** The run ended ({@code execution_success}, {@code _error}, {@code _interrupted}, or {@code executing node:null}). */
        void ended(String event, JsonNode data);
    }

    @Inject
    ComfyClient client;

    @Inject
    Backends backends;

    @Inject
    ObjectMapper json;

    @Inject
    Clock clock;

    private final Map<String, RunListener> listeners = new ConcurrentHashMap<>();
    private final HttpClient http = HttpClient.newHttpClient();
    private volatile WebSocket socket;
    private volatile Instant lastAttempt = Instant.EPOCH;

    /** The id ComfyUI knows this executor's socket by; submits carry it as {@code client_id}. */
    public String clientId() {
        return backends.executorId();
    }

    public void listen(String promptId, RunListener listener) {
        listeners.put(promptId, listener);
        ensureOpen();
    }

    public void forget(String promptId) {
        listeners.remove(promptId);
    }

    /** Whether the socket is open now (if not, runs rely on polling). */
    public boolean open() {
        WebSocket ws = socket;
        return ws != null && !ws.isInputClosed() && !ws.isOutputClosed();
    }

    /** Opens the socket unless it is open or an attempt was made in the last two seconds. */
    public synchronized void ensureOpen() {
        if (open() || clock.instant().isBefore(lastAttempt.plus(RECONNECT_AFTER))) {
            return;
        }
        lastAttempt = clock.instant();
        String ws = client.baseUrl().replaceFirst("^http", "ws") + "/ws?clientId=" + clientId();
        try {
            socket = http.newWebSocketBuilder().connectTimeout(Duration.ofSeconds(5))
                    .buildAsync(URI.create(ws), new Reader()).get(6, TimeUnit.SECONDS);
            LOG.debugf("ComfyUI websocket open at %s", ws);
        } catch (Exception e) {
            LOG.debugf("ComfyUI websocket at %s not open (%s); runs are followed through /history", ws, e.toString());
        }
    }

    void onStop(@Observes ShutdownEvent stop) {
        WebSocket ws = socket;
        if (ws != null) {
            ws.abort();
        }
    }

    private void dispatch(String text) {
        JsonNode message;
        try {
            message = json.readTree(text);
        } catch (Exception e) {
            return; // not ours to judge; ComfyUI may add message kinds
        }
        String type = message.path("type").asText();
        JsonNode data = message.path("data");
        RunListener listener = listeners.get(data.path("prompt_id").asText(""));
        if (listener == null) {
            return;
        }
        switch (type) {
            case "progress" -> listener.progress(data.path("node").asText(), data.path("value").asDouble(),
                    data.path("max").asDouble());
            case "execution_start" -> listener.started();
            case "execution_success", "execution_error", "execution_interrupted" -> listener.ended(type, data);
            case "executing" -> {
                if (data.path("node").isNull()) {
                    listener.ended(type, data);
                }
            }
            default -> {
                // status, execution_cached, executed, progress_state: nothing to do
            }
        }
    }

    private final class Reader implements WebSocket.Listener {
        private final StringBuilder partial = new StringBuilder();

        @Override
        public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
            partial.append(data);
            if (last) {
                String text = partial.toString();
                partial.setLength(0);
                dispatch(text);
            }
            ws.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onBinary(WebSocket ws, ByteBuffer data, boolean last) {
            ws.request(1); // previews: not needed
            return null;
        }

        @Override
        public CompletionStage<?> onClose(WebSocket ws, int statusCode, String reason) {
            LOG.debugf("ComfyUI websocket closed (%d %s)", statusCode, reason);
            return null;
        }

        @Override
        public void onError(WebSocket ws, Throwable error) {
            LOG.debugf("ComfyUI websocket failed: %s", error.toString());
        }
    }
}
