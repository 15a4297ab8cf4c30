package dev.atelier.fakes;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A fake Ollama that behaves like contracts/ollama-api.md: NDJSON streaming unless {@code "stream": false}, a final
 * {@code done} chunk with metrics in nanoseconds, {@code {"error": ...}} bodies, 404 for an unknown model, 503 with
 * the queue-full text, an error line mid-stream, and a plain-text 404 for unknown paths. Closing the connection is
 * the cancel: the fake notices when its next write fails and does not count the request as completed.
 * <p>
 * The prompt (or the last message) says how to behave, so one batch can mix cases:
 * {@code hang}, {@code fail-500}, {@code bad-request}, {@code midstream-error}, {@code drop-midstream} (the
 * connection is cut after two chunks while the server stays up), {@code slow:<ms>} (total time,
 * spread over the chunks), {@code nul-bytes} (the answer carries U+0000, as a model's byte-fallback token
 * {@code <0x00>} does; Go's encoder sends it as {@code \u0000}); anything else is answered at once. A model named with
 * {@link #missingBlob} is listed by {@code /api/tags} but answers 404, as when its manifest is there and a blob is not.
 * <p>
 * Like a GPU (REALITY.md, Ollama 1-4), it can hold at most {@link #maxLoaded} models, least recently used out first,
 * and only once their requests have ended; loading one takes {@link #loadMillis}, one load at a time; requests wait
 * for one of {@link #numParallel} slots. All that waiting is silent: not even the status line is sent. Model names
 * match the way Ollama matches them (case-insensitive, {@code registry.ollama.ai/library/} and {@code :latest}
 * implied). {@code /api/ps} lists what is loaded. {@code stall:<ms>} prompts stop for that long after three chunks.
 */
public final class FakeOllama implements AutoCloseable {

    /** The exact ErrMaxQueue text, two spaces included (contracts 7.1). */
    public static final String QUEUE_FULL = "server busy, please try again.  maximum pending requests exceeded";

    private final ObjectMapper json = new ObjectMapper();
    private final int port;
    private final ExecutorService threads = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "fake-ollama");
        t.setDaemon(true);
        return t;
    });
    private volatile HttpServer server;
    private volatile List<String> models = List.of("llama3.2:latest", "deepseek-r1:32b");
    private volatile List<String> missingBlobs = List.of();
    private final AtomicInteger busyAnswers = new AtomicInteger();
    private volatile boolean released;
    private volatile boolean holdAll;
    private volatile long answerMillis;
    private final Gpu gpu = new Gpu();
    private volatile Map<String, String> capacityFailures = Map.of();

    // what it saw
    private final AtomicInteger inFlight = new AtomicInteger();
    private final AtomicInteger maxInFlight = new AtomicInteger();
    // appended on every chunk: a copy-on-write list would copy itself each time (quadratic over a bench's 100,000)
    private final List<Integer> inFlightSamples = Collections.synchronizedList(new ArrayList<>());
    private final Map<String, AtomicInteger> callsByPrompt = new ConcurrentHashMap<>();
    private final Map<String, AtomicInteger> completedByPrompt = new ConcurrentHashMap<>();
    private final List<String> aborted = new CopyOnWriteArrayList<>();
    private final List<JsonNode> requests = Collections.synchronizedList(new ArrayList<>());

    static {
        // Ollama (Go's net/http) sets TCP_NODELAY; without it the JDK server's small chunk writes meet the client's
        // delayed ACKs and every streamed answer stalls ~40 ms. Read once, when the JDK server first loads.
        System.setProperty("sun.net.httpserver.nodelay", "true");
    }

    public FakeOllama() {
        try (var probe = new java.net.ServerSocket(0)) {
            this.port = probe.getLocalPort();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        up();
    }

    public String url() {
        return "http://127.0.0.1:" + port;
    }

    /** Starts answering (again) on the same port. */
    public synchronized void up() {
        if (server != null) {
            return;
        }
        try {
            HttpServer s = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 64);
            s.setExecutor(threads);
            s.createContext("/", this::route);
            s.start();
            server = s;
        } catch (IOException e) {
            throw new IllegalStateException("fake Ollama could not bind " + port, e);
        }
    }

    /** Stops listening: connections are refused, as when Ollama is down. */
    public synchronized void down() {
        if (server != null) {
            server.stop(0);
            server = null;
        }
    }

    public void models(String... names) {
        models = List.of(names);
    }

    /** At most this many models stay loaded (OLLAMA_MAX_LOADED_MODELS); unlimited by default. */
    public void maxLoaded(int models) {
        gpu.maxLoaded = models;
    }

    /** Loading a model that is not loaded takes this long, silently (a cold load, a swap). */
    public void loadMillis(long millis) {
        gpu.loadMillis = millis;
    }

    /** At most this many requests are answered at once (OLLAMA_NUM_PARALLEL); the rest wait silently. 0: no limit. */
    public void numParallel(int slots) {
        gpu.numParallel(slots);
    }

    /** How many times a model was loaded. */
    public int loads() {
        return gpu.loads.get();
    }

    /** The models loaded now, least recently used first. */
    public List<String> loaded() {
        return gpu.loaded();
    }

    /**
     * Generating with this model answers 500 with {@code message}, every time, on this box (REALITY.md, Ollama 6:
     * "model requires more system memory (X) than is available (Y)").
     */
    public void capacityFailure(String model, String message) {
        capacityFailures = Map.of(key(model), message);
    }

    /** These models stay in {@code /api/tags}, but generating with them answers 404 (contracts 6). */
    public void missingBlob(String... names) {
        missingBlobs = List.of(names);
    }

    /** The next {@code count} generate/chat requests get 503 queue-full. */
    public void busyFor(int count) {
        busyAnswers.set(count);
    }

    /** Every answer takes at least this long, spread over its chunks (a {@code slow:} prompt may ask for longer). */
    public void answerMillis(long millis) {
        answerMillis = millis;
    }

    /** While on, every generate or chat request is held without an answer, whatever its prompt. */
    public void holdAll(boolean on) {
        holdAll = on;
    }

    public void reset() {
        released = true;
        pause(150);
        released = false;
        up();
        busyAnswers.set(0);
        answerMillis = 0;
        maxInFlight.set(0);
        inFlightSamples.clear();
        callsByPrompt.clear();
        completedByPrompt.clear();
        aborted.clear();
        requests.clear();
        models("llama3.2:latest", "deepseek-r1:32b");
        missingBlob();
        capacityFailures = Map.of();
        gpu.reset();
    }

    public int calls(String prompt) {
        return callsByPrompt.getOrDefault(prompt, new AtomicInteger()).get();
    }

    public int completed(String prompt) {
        return completedByPrompt.getOrDefault(prompt, new AtomicInteger()).get();
    }

    public Map<String, AtomicInteger> callsByPrompt() {
        return callsByPrompt;
    }

    public List<String> aborted() {
        return aborted;
    }

    public int maxInFlight() {
        return maxInFlight.get();
    }

    /** How many requests were in flight, sampled each time a request started or a chunk was written. */
    public List<Integer> inFlightSamples() {
        synchronized (inFlightSamples) {
            return List.copyOf(inFlightSamples);
        }
    }

    public List<JsonNode> requests() {
        synchronized (requests) {
            return List.copyOf(requests);
        }
    }

    @Override
    public void close() {
        released = true;
        down();
        threads.shutdownNow();
    }

    // ---------------------------------------------------------------- routing

    /** Thrown out of a handler: the JDK server then closes the socket without ending the chunked answer. */
    private static final class DropConnection extends RuntimeException {
        DropConnection() {
            super("dropped on purpose", null, false, false);
        }
    }

    private void route(HttpExchange exchange) throws IOException {
        try {
            String path = exchange.getRequestURI().getPath();
            String method = exchange.getRequestMethod();
            if ("/api/version".equals(path) && "GET".equals(method)) {
                sendJson(exchange, 200, "{\"version\":\"0.32.15\"}");
            } else if ("/api/tags".equals(path) && "GET".equals(method)) {
                ArrayNode list = json.createArrayNode();
                for (String name : models) {
                    list.addObject().put("name", name).put("model", name)
                            .put("modified_at", "2026-08-20T11:02:13.4416371-07:00").put("size", 2019393189L)
                            .put("digest", "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72")
                            .putObject("details").put("format", "gguf").put("family", "llama");
                }
                ObjectNode tags = json.createObjectNode();
                tags.set("models", list);
                sendJson(exchange, 200, tags.toString());
            } else if ("/api/ps".equals(path) && "GET".equals(method)) {
                ArrayNode list = json.createArrayNode();
                for (String name : gpu.loaded()) {
                    list.addObject().put("name", name).put("model", name).put("size", 5_500_000_000L)
                            .put("size_vram", 5_500_000_000L).put("expires_at", "2026-12-04T12:05:00.000000000Z")
                            .put("context_length", 4096)
                            .put("digest", "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72")
                            .putObject("details").put("format", "gguf").put("family", "llama");
                }
                ObjectNode ps = json.createObjectNode();
                ps.set("models", list);
                sendJson(exchange, 200, ps.toString());
            } else if (("/api/generate".equals(path) || "/api/chat".equals(path)) && "POST".equals(method)) {
                generate(exchange, "/api/chat".equals(path));
            } else if (path.startsWith("/api/")) {
                sendText(exchange, 405, "405 method not allowed");
            } else {
                sendText(exchange, 404, "404 page not found");
            }
        } catch (DropConnection dropped) {
            throw dropped; // not closed: a close would end the answer cleanly
        } catch (IOException | RuntimeException e) {
            exchange.close();
            throw e;
        }
        exchange.close();
    }

    private void generate(HttpExchange exchange, boolean chat) throws IOException {
        byte[] raw = exchange.getRequestBody().readAllBytes();
        if (raw.length == 0) {
            sendJson(exchange, 400, "{\"error\":\"missing request body\"}");
            return;
        }
        JsonNode request = json.readTree(raw);
        requests.add(request);
        String model = request.path("model").asText("");
        String prompt = chat ? lastMessage(request) : request.path("prompt").asText("");
        boolean stream = !request.has("stream") || request.get("stream").asBoolean();
        if (busyAnswers.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
            sendJson(exchange, 503, json.createObjectNode().put("error", QUEUE_FULL).toString());
            return;
        }
        String key = key(model);
        if (models.stream().noneMatch(m -> key(m).equals(key)) || missingBlobs.stream().anyMatch(m -> key(m).equals(key))) {
            sendJson(exchange, 404, json.createObjectNode().put("error", "model '" + model + "' not found").toString());
            return;
        }
        callsByPrompt.computeIfAbsent(prompt, p -> new AtomicInteger()).incrementAndGet();
        if (capacityFailures.containsKey(key)) {
            sendJson(exchange, 500, json.createObjectNode().put("error", capacityFailures.get(key)).toString());
            return;
        }
        gpu.acquire(key); // silent: a load, a swap, a parallel slot
        sample(inFlight.incrementAndGet());
        try {
            switch (holdAll ? "hang" : prompt.split("[ :]", 2)[0]) {
                case "bad-request" -> sendJson(exchange, 400, "{\"error\":\"raw mode does not support template, system, or context\"}");
                case "fail-500" -> sendJson(exchange, 500, "{\"error\":\"option \\\"temperature\\\" must be of type float32\"}");
                case "hang" -> hang(exchange);
                default -> answer(exchange, chat, model, prompt, stream, request.path("think").asBoolean(false),
                        request.path("format").isObject() || !request.path("format").asText("").isEmpty());
            }
        } finally {
            inFlight.decrementAndGet();
            gpu.release(key);
        }
    }

    /** A model name as Ollama compares it: lower case, without its default registry and namespace, tag implied. */
    static String key(String name) {
        String n = name.toLowerCase(java.util.Locale.ROOT);
        n = n.startsWith("registry.ollama.ai/") ? n.substring("registry.ollama.ai/".length()) : n;
        n = n.startsWith("library/") ? n.substring("library/".length()) : n;
        return n.substring(n.lastIndexOf('/') + 1).contains(":") ? n : n + ":latest";
    }

    /** What a GPU holds and how long it takes to change it. */
    private static final class Gpu {
        volatile int maxLoaded = Integer.MAX_VALUE;
        volatile long loadMillis;
        final AtomicInteger loads = new AtomicInteger();
        private final LinkedHashMap<String, Integer> resident = new LinkedHashMap<>(16, 0.75f, true); // model -> busy
        private final Object loading = new Object();
        private volatile java.util.concurrent.Semaphore slots;

        void numParallel(int n) {
            slots = n <= 0 ? null : new java.util.concurrent.Semaphore(n, true);
        }

        synchronized List<String> loaded() {
            return List.copyOf(resident.keySet());
        }

        synchronized void reset() {
            maxLoaded = Integer.MAX_VALUE;
            loadMillis = 0;
            loads.set(0);
            resident.clear();
            slots = null;
            notifyAll();
        }

        void acquire(String model) {
            if (!attachIfLoaded(model)) {
                load(model);
            }
            java.util.concurrent.Semaphore parallel = slots;
            if (parallel != null) {
                parallel.acquireUninterruptibly();
            }
        }

        /** A request for a loaded model goes straight to its runner, past any load in progress. */
        private synchronized boolean attachIfLoaded(String model) {
            if (resident.containsKey(model)) {
                resident.merge(model, 1, Integer::sum);
                return true;
            }
            return false;
        }

        private void load(String model) {
            synchronized (loading) { // one load at a time, as the scheduler does
                synchronized (this) {
                    if (resident.containsKey(model)) {
                        resident.merge(model, 1, Integer::sum);
                    } else {
                        // a swap waits until the model it evicts has no request left
                        while (resident.size() >= maxLoaded && resident.values().iterator().next() > 0) {
                            waitQuietly();
                        }
                        if (resident.size() >= maxLoaded) {
                            resident.remove(resident.keySet().iterator().next());
                        }
                    }
                }
                if (!loaded().contains(model)) {
                    pause(loadMillis);
                    loads.incrementAndGet();
                    synchronized (this) {
                        resident.put(model, 1);
                    }
                }
            }
        }

        void release(String model) {
            java.util.concurrent.Semaphore parallel = slots;
            if (parallel != null) {
                parallel.release();
            }
            synchronized (this) {
                resident.computeIfPresent(model, (m, busy) -> busy - 1);
                notifyAll();
            }
        }

        private void waitQuietly() {
            try {
                wait(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private static String lastMessage(JsonNode request) {
        JsonNode messages = request.path("messages");
        return messages.isEmpty() ? "" : messages.get(messages.size() - 1).path("content").asText("");
    }

    /**
     * Echoes the prompt, word by word; with {@code format} (structured output, contracts 4.3) the echo is the
     * {@code description} of a JSON object, which arrives as text to be parsed again, as Ollama sends it.
     */
    private void answer(HttpExchange exchange, boolean chat, String model, String prompt, boolean stream, boolean think,
                        boolean structured) throws IOException {
        String echo = "echo " + prompt + (prompt.startsWith("nul-bytes") ? " <\0> and \0" : "");
        String[] words = (structured ? json.createObjectNode().put("description", echo).toString() : echo).split(" ");
        long asked = prompt.startsWith("slow:") ? Long.parseLong(prompt.substring(5).trim().split(" ")[0]) : 0;
        long total = Math.max(asked, answerMillis);
        long pause = total / (words.length + 1);
        boolean midstreamError = prompt.startsWith("midstream-error");
        if (!stream) {
            pause(total);
            if (midstreamError) {
                sendJson(exchange, 500, "{\"error\":\"model runner has unexpectedly stopped\"}");
                return;
            }
            ObjectNode reply = chunk(chat, model, String.join(" ", words), think ? "Let me think. " : null);
            finalFields(reply);
            completedByPrompt.computeIfAbsent(prompt, p -> new AtomicInteger()).incrementAndGet();
            sendJson(exchange, 200, reply.toString());
            return;
        }
        exchange.getResponseHeaders().set("Content-Type", "application/x-ndjson");
        exchange.sendResponseHeaders(200, 0);
        OutputStream out = exchange.getResponseBody();
        try {
            if (think) {
                writeLine(out, chunk(chat, model, "", "Let me think. "));
            }
            long stall = prompt.startsWith("stall:") ? Long.parseLong(prompt.substring(6).trim().split(" ")[0]) : 0;
            for (int i = 0; i < words.length; i++) {
                pause(i == 3 ? Math.max(pause, stall) : pause);
                writeLine(out, chunk(chat, model, (i == 0 ? "" : " ") + words[i], null));
                if (prompt.startsWith("drop-midstream") && i == 1) {
                    throw new DropConnection(); // Ollama still up: the connection alone broke
                }
                if (midstreamError && i == 1) {
                    writeLine(out, json.createObjectNode().put("error",
                            "model runner has unexpectedly stopped, this may be due to resource limitations"));
                    return;
                }
            }
            pause(pause);
            ObjectNode last = chunk(chat, model, "", null);
            finalFields(last);
            writeLine(out, last);
            completedByPrompt.computeIfAbsent(prompt, p -> new AtomicInteger()).incrementAndGet();
        } catch (IOException e) {
            aborted.add(prompt); // the client closed the connection: Ollama's cancel (contracts 8)
        }
    }

    /** Answers nothing at all, like an Ollama stuck loading a model, until the fake is reset or closed. */
    private void hang(HttpExchange exchange) {
        for (int i = 0; i < 600 && !released; i++) {
            pause(100);
        }
    }

    private ObjectNode chunk(boolean chat, String model, String text, String thinking) {
        ObjectNode chunk = json.createObjectNode().put("model", model).put("created_at", Instant.now().toString());
        if (chat) {
            ObjectNode message = chunk.putObject("message").put("role", "assistant").put("content", text);
            if (thinking != null) {
                message.put("thinking", thinking);
            }
        } else {
            chunk.put("response", text);
            if (thinking != null) {
                chunk.put("thinking", thinking);
            }
        }
        chunk.put("done", false);
        return chunk;
    }

    private static void finalFields(ObjectNode chunk) {
        chunk.put("done", true).put("done_reason", "stop")
                .put("total_duration", 2_154_875_416L).put("load_duration", 41_638_750L)
                .put("prompt_eval_count", 31).put("prompt_eval_duration", 92_771_000L)
                .put("eval_count", 29).put("eval_duration", 1_996_341_000L);
    }

    private void writeLine(OutputStream out, JsonNode line) throws IOException {
        out.write((line.toString() + "\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
        sample(inFlight.get());
    }

    private void sample(int current) {
        maxInFlight.accumulateAndGet(current, Math::max);
        inFlightSamples.add(current);
    }

    private static void sendJson(HttpExchange exchange, int status, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "application/json; charset=utf-8");
        exchange.sendResponseHeaders(status, bytes.length);
        exchange.getResponseBody().write(bytes);
    }

    private static void sendText(HttpExchange exchange, int status, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "text/plain");
        exchange.sendResponseHeaders(status, bytes.length);
        exchange.getResponseBody().write(bytes);
    }

    private static void pause(long millis) {
        if (millis <= 0) {
            return;
        }
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
