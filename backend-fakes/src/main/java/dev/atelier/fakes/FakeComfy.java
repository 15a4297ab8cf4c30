package dev.atelier.fakes;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.ServerWebSocket;
import java.awt.Color;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.imageio.ImageIO;

/**
 * A fake ComfyUI over real HTTP and a real websocket that behaves like contracts/comfyui-api.md: {@code POST /prompt}
 * validates (checkpoint names, an output node, uploaded images) and queues; one worker runs the queue, sending the
 * run's events only to the socket named by its {@code client_id}; {@code /history/{id}} stays {@code {}} until the
 * run is saved, and {@code executing node:null} comes after that; {@code /interrupt} with a prompt id stops only that
 * run; {@code /queue} deletes only waiting runs; {@code /view} serves the PNGs; {@code /upload/image} stores inputs.
 * <p>
 * The positive prompt's text says how a run behaves: {@code fail-execution} (KSampler raises an out-of-memory
 * error), {@code hang} (runs until interrupted), {@code slow:<ms>}; otherwise 5 steps of 20 ms. Each SaveImage
 * saves {@code batch_size} images; each PreviewImage shows them as {@code temp} files.
 * <p>
 * Like real servers of different versions and boxes (REALITY.md, ComfyUI): {@link #version} below 0.3.45 ignores the
 * client's {@code prompt_id}, below 0.3.57 {@code /interrupt} stops whatever runs; {@link #checkpoints} and
 * {@link #loras} are what this box has, and a node class listed by {@link #missingNodeClass} is not installed; a
 * SaveImage with an empty {@code filename_prefix} fails validation, and when another output passes, the run is
 * queued anyway with that output skipped ({@code node_errors} in a 200); {@link #clearQueue} empties the queue the
 * way the UI's queue panel does.
 */
public final class FakeComfy implements AutoCloseable {

    public static final String CHECKPOINT = "v1-5-pruned-emaonly-fp16.safetensors";

    private final ObjectMapper json = new ObjectMapper();
    private final Vertx vertx = Vertx.vertx();
    private final HttpServer server;
    private final Map<String, ServerWebSocket> sockets = new ConcurrentHashMap<>();
    private final Deque<Prompt> pending = new ArrayDeque<>();
    private final Map<String, ObjectNode> history = new ConcurrentHashMap<>();
    private final Map<String, byte[]> files = new ConcurrentHashMap<>();
    private final Map<String, byte[]> uploads = new ConcurrentHashMap<>();
    private final Map<String, AtomicInteger> posts = new ConcurrentHashMap<>();
    private final List<String> interrupts = new CopyOnWriteArrayList<>();
    private final List<String> deletes = new CopyOnWriteArrayList<>();
    private final List<JsonNode> submitted = new CopyOnWriteArrayList<>();
    private final Thread worker;
    private volatile Prompt running;
    private volatile boolean paused;
    private volatile boolean closed;
    private volatile boolean stallViews;
    private volatile String version = "0.3.64";
    private volatile List<String> checkpoints = List.of(CHECKPOINT);
    private volatile List<String> loras = List.of();
    private volatile List<String> missingNodeClasses = List.of();
    private volatile long viewPadding;
    private final AtomicInteger viewCalls = new AtomicInteger();
    private int counter;

    private static final class Prompt {
        final String id;
        final String clientId;
        final JsonNode graph;
        final int number;
        volatile boolean interrupted;

        Prompt(String id, String clientId, JsonNode graph, int number) {
            this.id = id;
            this.clientId = clientId;
            this.graph = graph;
            this.number = number;
        }
    }

    public FakeComfy() {
        server = vertx.createHttpServer();
        server.webSocketHandler(this::socket);
        server.requestHandler(this::request);
        try {
            server.listen(0, "127.0.0.1").toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException("the fake ComfyUI did not start", e);
        }
        worker = new Thread(this::work, "fake-comfy-worker");
        worker.setDaemon(true);
        worker.start();
    }

    /**
     * The contract's txt2img graph (a copy of contracts/fixtures/comfyui/workflow-txt2img-api.json in the test
     * resources, so a clone of this repository alone runs the tests).
     */
    public static String txt2img() throws IOException {
        try (var in = FakeComfy.class.getResourceAsStream("/comfyui/workflow-txt2img-api.json")) {
            return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        }
    }

    public String url() {
        return "http://127.0.0.1:" + server.actualPort();
    }

    // ---------------------------------------------------------------- what tests look at and control

    /** How many times {@code POST /prompt} carried this prompt id. */
    public int posts(String promptId) {
        AtomicInteger n = posts.get(promptId);
        return n == null ? 0 : n.get();
    }

    /** Forgets what it saw so far (posts, interrupts, deletes, submitted workflows), for the next test. */
    public void resetCounts() {
        posts.clear();
        interrupts.clear();
        deletes.clear();
        submitted.clear();
    }

    public int totalPosts() {
        return posts.values().stream().mapToInt(AtomicInteger::get).sum();
    }

    /** The bodies of {@code POST /interrupt}; an empty string was a global interrupt. */
    public List<String> interrupts() {
        return List.copyOf(interrupts);
    }

    /** Prompt ids deleted from the queue. */
    public List<String> deletes() {
        return List.copyOf(deletes);
    }

    /** The workflows as submitted. */
    public List<JsonNode> submitted() {
        return List.copyOf(submitted);
    }

    public byte[] upload(String name) {
        return uploads.get(name);
    }

    public Map<String, byte[]> uploads() {
        return Map.copyOf(uploads);
    }

    /** The bytes /view serves for a saved file. */
    public byte[] file(String name) {
        return files.get(name);
    }

    public boolean isRunning(String promptId) {
        Prompt p = running;
        return p != null && p.id.equals(promptId);
    }

    public synchronized boolean isPending(String promptId) {
        return pending.stream().anyMatch(p -> p.id.equals(promptId));
    }

    /** The worker takes no new run until {@link #resume()}. */
    public void pause() {
        paused = true;
    }

    public synchronized void resume() {
        paused = false;
        notifyAll();
    }

    /** The version {@code /system_stats} reports, and whose behaviours it has (see the class comment). */
    public void version(String version) {
        this.version = version;
    }

    /** The checkpoint files this box has ({@code /models/checkpoints}, validation of {@code ckpt_name}). */
    public void checkpoints(String... names) {
        checkpoints = List.of(names);
    }

    /** The LoRA files this box has (validation of {@code lora_name}). */
    public void loras(String... names) {
        loras = List.of(names);
    }

    /** A custom node class that is not installed on this box. */
    public void missingNodeClass(String... classTypes) {
        missingNodeClasses = List.of(classTypes);
    }

    /** Removes every waiting run, as {@code POST /queue {"clear": true}} from the UI's queue panel does. */
    public synchronized void clearQueue() {
        pending.clear();
    }

    private boolean older(String than) {
        String[] have = version.split("\\.");
        String[] want = than.split("\\.");
        for (int i = 0; i < Math.max(have.length, want.length); i++) {
            int a = i < have.length ? Integer.parseInt(have[i]) : 0;
            int b = i < want.length ? Integer.parseInt(want[i]) : 0;
            if (a != b) {
                return a < b;
            }
        }
        return false;
    }

    /** While on, {@code /view} sends its headers and the first bytes, then nothing more (a stalled download). */
    public void stallViews(boolean on) {
        stallViews = on;
    }

    /** Every {@code /view} answer carries this many bytes more than the file (a very large output). */
    public void viewPadding(long bytes) {
        viewPadding = bytes;
    }

    /** How many {@code /view} requests it received. */
    public int viewCalls() {
        return viewCalls.get();
    }

    /** Closes every websocket, as a network blip would. */
    public void dropSockets() {
        sockets.values().forEach(ws -> vertx.runOnContext(v -> ws.close()));
        sockets.clear();
    }

    /** Queues a run as if someone (another executor, an artist) had posted it. */
    public synchronized void enqueue(String promptId, String clientId, JsonNode graph) {
        pending.add(new Prompt(promptId, clientId, graph, ++counter));
        posts.computeIfAbsent(promptId, k -> new AtomicInteger()).incrementAndGet();
        notifyAll();
    }

    @Override
    public void close() {
        closed = true;
        synchronized (this) {
            notifyAll();
        }
        worker.interrupt();
        server.close();
        vertx.close();
    }

    // ---------------------------------------------------------------- HTTP

    private void request(HttpServerRequest req) {
        String path = req.path().startsWith("/api/") ? req.path().substring(4) : req.path();
        if (path.equals("/upload/image") && req.method().name().equals("POST")) {
            upload(req);
            return;
        }
        req.body().onSuccess(body -> {
            try {
                route(req, path, body);
            } catch (Exception e) {
                req.response().setStatusCode(500).end("500 Internal Server Error\n\n" + e);
            }
        });
    }

    private void route(HttpServerRequest req, String path, Buffer body) throws IOException {
        String method = req.method().name();
        if (method.equals("POST") && path.equals("/prompt")) {
            prompt(req, json.readTree(body.toString()));
        } else if (method.equals("GET") && path.startsWith("/history/")) {
            String id = path.substring("/history/".length());
            ObjectNode answer = json.createObjectNode();
            ObjectNode entry = history.get(id);
            if (entry != null) {
                answer.set(id, entry);
            }
            sendJson(req, 200, answer);
        } else if (method.equals("GET") && path.equals("/queue")) {
            sendJson(req, 200, queue());
        } else if (method.equals("POST") && path.equals("/queue")) {
            JsonNode command = json.readTree(body.toString());
            synchronized (this) {
                for (JsonNode id : command.path("delete")) {
                    deletes.add(id.asText());
                    pending.removeIf(p -> p.id.equals(id.asText()));
                }
                if (command.path("clear").asBoolean(false)) {
                    pending.clear();
                }
            }
            req.response().setStatusCode(200).end();
        } else if (method.equals("POST") && path.equals("/interrupt")) {
            String text = body.toString();
            interrupts.add(text);
            String id = text.isBlank() ? null : json.readTree(text).path("prompt_id").asText(null);
            Prompt now = running;
            // before 0.3.57 the prompt_id is ignored: whatever runs is interrupted, anybody's
            if (now != null && (id == null || id.equals(now.id) || older("0.3.57"))) {
                now.interrupted = true;
            }
            req.response().setStatusCode(200).end();
        } else if (method.equals("GET") && path.equals("/view")) {
            String name = req.getParam("filename");
            if (name == null || name.startsWith("/") || name.contains("..")) {
                req.response().setStatusCode(name == null ? 404 : 400).end();
                return;
            }
            byte[] data = "input".equals(req.getParam("type")) ? uploads.get(name) : files.get(name);
            if (data == null) {
                req.response().setStatusCode(404).end();
                return;
            }
            viewCalls.incrementAndGet();
            req.response().putHeader("Content-Type", "image/png")
                    .putHeader("Content-Disposition", "filename=\"" + name + "\"");
            if (stallViews) {
                req.response().setChunked(true).write(Buffer.buffer(data).slice(0, Math.min(16, data.length)));
                return; // never ended: the client must give up by itself
            }
            if (viewPadding > 0) {
                req.response().setChunked(true).write(Buffer.buffer(data));
                Buffer megabyte = Buffer.buffer(new byte[1 << 20]);
                for (long left = viewPadding; left > 0; left -= megabyte.length()) {
                    req.response().write(left >= megabyte.length() ? megabyte : megabyte.slice(0, (int) left));
                }
                req.response().end();
                return;
            }
            req.response().end(Buffer.buffer(data));
        } else if (method.equals("GET") && path.equals("/system_stats")) {
            sendJson(req, 200, json.readTree("""
                    {"system": {"os": "posix", "ram_total": 67324395520, "ram_free": 51873447936, "comfyui_version": "%s",
                     "python_version": "3.12.3", "pytorch_version": "2.8.0+cu128", "embedded_python": false, "argv": ["main.py"]},
                     "devices": [{"name": "cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync", "type": "cuda", "index": 0,
                                  "vram_total": 25386352640, "vram_free": 24906432512, "torch_vram_total": 0, "torch_vram_free": 0}]}"""
                    .formatted(version)));
        } else if (method.equals("GET") && path.equals("/models/checkpoints")) {
            ArrayNode names = json.createArrayNode();
            checkpoints.forEach(names::add);
            sendJson(req, 200, names);
        } else {
            req.response().setStatusCode(404).end("404: Not Found");
        }
    }

    private void prompt(HttpServerRequest req, JsonNode body) {
        JsonNode graph = body.get("prompt");
        if (graph == null || !graph.isObject()) {
            sendJson(req, 400, error("no_prompt", "No prompt provided", "No prompt provided", json.createObjectNode()));
            return;
        }
        // before 0.3.45 a client's prompt_id is ignored: the server makes its own
        String id = body.hasNonNull("prompt_id") && !older("0.3.45") ? body.get("prompt_id").asText()
                : UUID.randomUUID().toString();
        posts.computeIfAbsent(body.path("prompt_id").asText(id), k -> new AtomicInteger()).incrementAndGet();
        ObjectNode nodeErrors = json.createObjectNode();
        boolean hasOutput = false;
        int validOutputs = 0;
        for (Iterator<Map.Entry<String, JsonNode>> it = graph.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> node = it.next();
            String type = node.getValue().path("class_type").asText();
            JsonNode inputs = node.getValue().path("inputs");
            if (missingNodeClasses.contains(type)) {
                sendJson(req, 400, error("invalid_prompt", "Cannot execute because node " + type + " does not exist.",
                        "Node ID '#" + node.getKey() + "'", json.createObjectNode()));
                return;
            }
            boolean output = type.equals("SaveImage") || type.equals("PreviewImage");
            hasOutput |= output;
            if (type.equals("SaveImage") && inputs.path("filename_prefix").isTextual()
                    && inputs.path("filename_prefix").asText().isEmpty()) {
                nodeErrors.set(node.getKey(), nodeError(type, "required_input_missing", "Required input is missing",
                        "filename_prefix"));
            } else if (output) {
                validOutputs++;
            }
            if (type.equals("CheckpointLoaderSimple") && !checkpoints.contains(inputs.path("ckpt_name").asText())) {
                nodeErrors.set(node.getKey(), nodeError(type, "value_not_in_list", "Value not in list",
                        "ckpt_name: '" + inputs.path("ckpt_name").asText() + "' not in " + pythonList(checkpoints)));
            }
            if (type.equals("KSampler") && inputs.path("steps").isInt() && inputs.path("steps").asInt() < 1) {
                nodeErrors.set(node.getKey(), nodeError(type, "value_smaller_than_min", "Value 0 smaller than min of 1",
                        "steps"));
            }
            if (type.equals("LoraLoader") && !loras.contains(inputs.path("lora_name").asText())) {
                nodeErrors.set(node.getKey(), nodeError(type, "value_not_in_list", "Value not in list",
                        "lora_name: '" + inputs.path("lora_name").asText() + "' not in " + pythonList(loras)));
            }
            if (type.equals("LoadImage") && !uploads.containsKey(inputs.path("image").asText())) {
                nodeErrors.set(node.getKey(), nodeError(type, "custom_validation_failed", "Custom validation failed for node",
                        "image - Invalid image file: " + inputs.path("image").asText()));
            }
        }
        if (!hasOutput) {
            sendJson(req, 400, error("prompt_no_outputs", "Prompt has no outputs", "", json.createObjectNode()));
            return;
        }
        boolean onlyOutputsFailed = nodeErrors.size() > 0 && validOutputs > 0 && allOutputNodes(graph, nodeErrors);
        if (!nodeErrors.isEmpty() && !onlyOutputsFailed) {
            sendJson(req, 400, error("prompt_outputs_failed_validation", "Prompt outputs failed validation", "", nodeErrors));
            return;
        }
        submitted.add(graph);
        int number;
        synchronized (this) {
            number = ++counter;
            pending.add(new Prompt(id, body.path("client_id").asText(null), graph, number));
            notifyAll();
        }
        ObjectNode ok = json.createObjectNode();
        ok.put("prompt_id", id);
        ok.put("number", number);
        ok.set("node_errors", nodeErrors); // outputs that failed validation are skipped; the rest run
        sendJson(req, 200, ok);
    }

    private static boolean allOutputNodes(JsonNode graph, ObjectNode nodeErrors) {
        for (Iterator<String> ids = nodeErrors.fieldNames(); ids.hasNext(); ) {
            if (!graph.path(ids.next()).path("class_type").asText().equals("SaveImage")) {
                return false;
            }
        }
        return true;
    }

    private static String pythonList(List<String> names) {
        return names.stream().map(n -> "'" + n + "'").collect(java.util.stream.Collectors.joining(", ", "[", "]"));
    }

    private void upload(HttpServerRequest req) {
        req.setExpectMultipart(true);
        String[] stored = {null};
        req.uploadHandler(file -> {
            Buffer data = Buffer.buffer();
            file.handler(data::appendBuffer);
            file.endHandler(v -> {
                uploads.put(file.filename(), data.getBytes());
                stored[0] = file.filename();
            });
        });
        req.endHandler(v -> {
            if (stored[0] == null) {
                req.response().setStatusCode(400).end();
                return;
            }
            ObjectNode ok = json.createObjectNode();
            ok.put("name", stored[0]);
            ok.put("subfolder", "");
            ok.put("type", "input");
            sendJson(req, 200, ok);
        });
    }

    private ObjectNode error(String type, String message, String details, ObjectNode nodeErrors) {
        ObjectNode answer = json.createObjectNode();
        ObjectNode error = answer.putObject("error");
        error.put("type", type);
        error.put("message", message);
        error.put("details", details);
        error.putObject("extra_info");
        answer.set("node_errors", nodeErrors);
        return answer;
    }

    private ObjectNode nodeError(String classType, String type, String message, String details) {
        ObjectNode node = json.createObjectNode();
        ObjectNode e = node.putArray("errors").addObject();
        e.put("type", type);
        e.put("message", message);
        e.put("details", details);
        e.putObject("extra_info");
        node.putArray("dependent_outputs").add("9");
        node.put("class_type", classType);
        return node;
    }

    private synchronized ObjectNode queue() {
        ObjectNode q = json.createObjectNode();
        ArrayNode runningItems = q.putArray("queue_running");
        Prompt now = running;
        if (now != null) {
            runningItems.add(item(now));
        }
        ArrayNode pendingItems = q.putArray("queue_pending");
        pending.forEach(p -> pendingItems.add(item(p)));
        return q;
    }

    private ArrayNode item(Prompt p) {
        ArrayNode item = json.createArrayNode();
        item.add(p.number).add(p.id).add(p.graph);
        item.addObject().put("client_id", p.clientId);
        item.addArray().add("9");
        return item;
    }

    private void sendJson(HttpServerRequest req, int status, JsonNode body) {
        req.response().setStatusCode(status).putHeader("Content-Type", "application/json; charset=utf-8")
                .end(body.toString());
    }

    // ---------------------------------------------------------------- websocket and the worker

    private void socket(ServerWebSocket ws) {
        if (!ws.path().equals("/ws") && !ws.path().equals("/api/ws")) {
            ws.reject(404);
            return;
        }
        String clientId = ws.query() != null && ws.query().startsWith("clientId=")
                ? ws.query().substring("clientId=".length()) : UUID.randomUUID().toString().replace("-", "");
        sockets.put(clientId, ws);
        ws.closeHandler(v -> sockets.remove(clientId, ws));
        ObjectNode status = json.createObjectNode();
        status.put("type", "status");
        ObjectNode data = status.putObject("data");
        data.putObject("status").putObject("exec_info").put("queue_remaining", pending.size());
        data.put("sid", clientId);
        ws.writeTextMessage(status.toString());
    }

    private void send(Prompt p, String type, ObjectNode data) {
        if (p.clientId == null) {
            return;
        }
        ServerWebSocket ws = sockets.get(p.clientId);
        if (ws == null) {
            return;
        }
        ObjectNode message = json.createObjectNode();
        message.put("type", type);
        message.set("data", data);
        String text = message.toString();
        vertx.runOnContext(v -> {
            if (!ws.isClosed()) {
                ws.writeTextMessage(text);
            }
        });
    }

    private ObjectNode data(Prompt p) {
        ObjectNode data = json.createObjectNode();
        data.put("prompt_id", p.id);
        return data;
    }

    private void work() {
        while (!closed) {
            Prompt p;
            synchronized (this) {
                while (!closed && (paused || pending.isEmpty())) {
                    try {
                        wait();
                    } catch (InterruptedException e) {
                        return;
                    }
                }
                if (closed) {
                    return;
                }
                p = pending.poll();
                running = p;
            }
            try {
                execute(p);
            } catch (InterruptedException e) {
                return;
            } finally {
                running = null;
            }
        }
    }

    private void execute(Prompt p) throws InterruptedException {
        String text = positiveText(p.graph);
        List<ArrayNode> messages = new ArrayList<>();
        send(p, "execution_start", data(p).put("timestamp", System.currentTimeMillis()));
        messages.add(message("execution_start", data(p)));
        int steps = 5;
        long stepMillis = text.contains("slow:") ? Long.parseLong(text.replaceAll(".*slow:(\\d+).*", "$1")) / steps : 20;
        send(p, "executing", data(p).put("node", "3").put("display_node", "3"));
        String outcome = "execution_success";
        ObjectNode outcomeData = data(p);
        for (int step = 1; step <= steps || text.contains("hang"); step++) {
            if (p.interrupted) {
                outcome = "execution_interrupted";
                outcomeData.put("node_id", "3").put("node_type", "KSampler");
                outcomeData.putArray("executed").add("4").add("5").add("6").add("7");
                break;
            }
            if (text.contains("fail-execution") && step == 3) {
                outcome = "execution_error";
                outcomeData.put("node_id", "3").put("node_type", "KSampler")
                        .put("exception_message", "Allocation on device \nThis error means you ran out of memory on your GPU.")
                        .put("exception_type", "torch.OutOfMemoryError");
                outcomeData.putArray("executed").add("4").add("5").add("6").add("7");
                outcomeData.putArray("traceback").add("  File \"/opt/ComfyUI/execution.py\", line 496, in execute\n");
                break;
            }
            send(p, "progress", data(p).put("value", Math.min(step, steps)).put("max", steps).put("node", "3"));
            Thread.sleep(stepMillis);
        }
        ObjectNode entry = json.createObjectNode();
        entry.set("prompt", item(p));
        ObjectNode outputs = entry.putObject("outputs");
        if (outcome.equals("execution_success")) {
            for (Iterator<Map.Entry<String, JsonNode>> it = p.graph.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> node = it.next();
                String classType = node.getValue().path("class_type").asText();
                boolean preview = classType.equals("PreviewImage");
                String prefix = node.getValue().path("inputs").path("filename_prefix").asText("ComfyUI");
                if (classType.equals("SaveImage") && !prefix.isEmpty() || preview) {
                    ArrayNode images = outputs.putObject(node.getKey()).putArray("images");
                    for (int i = 0; i < batchSize(p.graph); i++) {
                        String name = preview ? "ComfyUI_temp_abcde_" + String.format("%05d", ++imageCounter) + "_.png"
                                : prefix + "_" + String.format("%05d", ++imageCounter) + "_.png";
                        files.put(name, png(p.id + "/" + i));
                        images.addObject().put("filename", name).put("subfolder", "").put("type", preview ? "temp" : "output");
                    }
                    send(p, "executed", data(p).put("node", node.getKey()).put("display_node", node.getKey())
                            .set("output", outputs.get(node.getKey())));
                }
            }
        }
        send(p, outcome, outcomeData.put("timestamp", System.currentTimeMillis()));
        messages.add(message(outcome, outcomeData));
        ObjectNode status = entry.putObject("status");
        status.put("status_str", outcome.equals("execution_success") ? "success" : "error");
        status.put("completed", outcome.equals("execution_success"));
        ArrayNode list = status.putArray("messages");
        messages.forEach(list::add);
        entry.putObject("meta");
        history.put(p.id, entry); // saved only now: /history/{id} was {} until this moment
        ObjectNode done = data(p);
        done.putNull("node");
        send(p, "executing", done);
    }

    private int imageCounter;

    private ArrayNode message(String event, ObjectNode data) {
        ArrayNode m = json.createArrayNode();
        m.add(event);
        m.add(data.deepCopy().put("timestamp", System.currentTimeMillis()));
        return m;
    }

    private static String positiveText(JsonNode graph) {
        StringBuilder text = new StringBuilder();
        for (JsonNode node : graph) {
            if (node.path("class_type").asText().equals("CLIPTextEncode")) {
                text.append(node.path("inputs").path("text").asText()).append(' ');
            }
        }
        return text.toString();
    }

    private static int batchSize(JsonNode graph) {
        for (JsonNode node : graph) {
            if (node.path("class_type").asText().equals("EmptyLatentImage")) {
                return Math.max(1, node.path("inputs").path("batch_size").asInt(1));
            }
        }
        return 1;
    }

    /** A small real PNG, different for each seed. */
    static byte[] png(String seed) {
        BufferedImage image = new BufferedImage(16, 16, BufferedImage.TYPE_INT_RGB);
        Color color = new Color(seed.hashCode() & 0xffffff);
        for (int x = 0; x < 16; x++) {
            for (int y = 0; y < 16; y++) {
                image.setRGB(x, y, (x + y) % 2 == 0 ? color.getRGB() : Color.BLACK.getRGB());
            }
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            ImageIO.write(image, "png", out);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return out.toByteArray();
    }
}
