package dev.atelier.executor.comfyui;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/** ComfyUI's error answers, as sentences a studio can act on. */
final class ComfyErrors {

    private ComfyErrors() {
    }

    /**
     * A 400 from {@code POST /prompt} (contracts 2): the top-level error, then each node's errors, e.g.
     * {@code node 4 (CheckpointLoaderSimple): Value not in list: ckpt_name: 'x' not in [...]}.
     */
    static String validation(JsonNode answer) {
        JsonNode error = answer.path("error");
        List<String> parts = new ArrayList<>();
        String message = error.path("message").asText("");
        String details = error.path("details").asText("");
        parts.add("ComfyUI rejected the workflow: " + (message.isBlank() ? "invalid prompt" : message)
                + (details.isBlank() ? "" : " (" + details + ")"));
        for (Iterator<Map.Entry<String, JsonNode>> it = answer.path("node_errors").fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> node = it.next();
            for (JsonNode e : node.getValue().path("errors")) {
                String d = e.path("details").asText("");
                parts.add("node " + node.getKey() + " (" + node.getValue().path("class_type").asText("?") + "): "
                        + e.path("message").asText("error") + (d.isBlank() ? "" : ": " + d));
            }
        }
        return String.join("; ", parts);
    }

    /** An {@code execution_error} (contracts 9): the node, the exception type and its message. */
    static String execution(JsonNode data) {
        return "ComfyUI node " + data.path("node_id").asText("?") + " (" + data.path("node_type").asText("?")
                + ") failed: " + data.path("exception_type").asText("error") + ": "
                + data.path("exception_message").asText("").strip();
    }
}
