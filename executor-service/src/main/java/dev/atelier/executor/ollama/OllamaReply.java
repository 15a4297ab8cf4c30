package dev.atelier.executor.ollama;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atelier.executor.backend.CallFailure;

/**
 * An Ollama answer put together from its NDJSON lines (or from the one object of a non-streamed answer): the text
 * and thinking of every chunk, and the final chunk's metadata (contracts 4.1, 4.2, 5).
 */
public final class OllamaReply {

    private final StringBuilder text = new StringBuilder();
    private final StringBuilder thinking = new StringBuilder();
    private JsonNode last;

    /** Adds one chunk; a chunk with {@code error} is a failure even with status 200 (contracts 7.2). */
    void add(JsonNode chunk) {
        if (chunk.hasNonNull("error")) {
            throw new CallFailure.Failed("Ollama error during generation: " + chunk.get("error").asText(), null);
        }
        JsonNode message = chunk.path("message");
        text.append(chunk.path("response").asText(""));
        text.append(message.path("content").asText(""));
        thinking.append(chunk.path("thinking").asText(""));
        thinking.append(message.path("thinking").asText(""));
        last = chunk;
    }

    /** Whether the final ({@code done: true}) chunk arrived; a stream that ends without one failed. */
    boolean done() {
        return last != null && last.path("done").asBoolean(false);
    }

    /** The job's result, as API.md gives it: text, thinking, done_reason, model, token counts and durations. */
    public ObjectNode toResult(ObjectMapper json) {
        ObjectNode result = json.createObjectNode();
        result.put("text", text.toString());
        if (!thinking.isEmpty()) {
            result.put("thinking", thinking.toString());
        }
        copyText(result, "done_reason");
        copyText(result, "model");
        copyCount(result, "prompt_eval_count");
        copyCount(result, "eval_count");
        copySeconds(result, "total_duration");
        copySeconds(result, "load_duration");
        copySeconds(result, "eval_duration");
        return result;
    }

    private void copyText(ObjectNode result, String field) {
        if (last.hasNonNull(field)) {
            result.put(field, last.get(field).asText());
        }
    }

    private void copyCount(ObjectNode result, String field) {
        if (last.hasNonNull(field)) {
            result.put(field, last.get(field).asLong());
        }
    }

    // Ollama gives durations in nanoseconds; API.md gives seconds
    private void copySeconds(ObjectNode result, String field) {
        if (last.hasNonNull(field)) {
            result.put(field + "_sec", last.get(field).asLong() / 1e9);
        }
    }
}
