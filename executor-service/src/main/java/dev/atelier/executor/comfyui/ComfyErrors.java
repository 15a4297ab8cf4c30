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
        parts.addAll(nodeErrors(answer));
        return String.join("; ", parts);
    }

    /**
     * Whether a 400 comes from this box alone (REALITY.md, ComfyUI 7): a model file it lacks (a
     * {@code value_not_in_list} on a {@code *_name} input such as {@code ckpt_name} or {@code lora_name}), or a node
     * class that is not installed ({@code invalid_prompt} "... does not exist", or {@code missing_node_type}).
     * Another box may have them.
     */
    static boolean onlyThisBox(JsonNode answer) {
        JsonNode error = answer.path("error");
        String type = error.path("type").asText("");
        if (type.equals("missing_node_type")
                || type.equals("invalid_prompt") && error.path("message").asText("").contains("does not exist")) {
            return true;
        }
        boolean any = false;
        for (JsonNode node : answer.path("node_errors")) {
            for (JsonNode e : node.path("errors")) {
                boolean modelFile = e.path("type").asText("").equals("value_not_in_list")
                        && (e.path("extra_info").path("input_name").asText("").endsWith("_name")
                        || e.path("details").asText("").matches("^\\w+_name: .*"));
                if (!modelFile) {
                    return false;
                }
                any = true;
            }
        }
        return any;
    }

    /** A 200 whose {@code node_errors} name outputs ComfyUI would skip (REALITY.md, ComfyUI 3). */
    static String skippedOutputs(JsonNode answer) {
        return "ComfyUI would skip outputs that failed validation, so the run was taken out of its queue: "
                + String.join("; ", nodeErrors(answer));
    }

    /** Each node's errors, e.g. {@code node 4 (CheckpointLoaderSimple): Value not in list: ckpt_name: ...}. */
    private static List<String> nodeErrors(JsonNode answer) {
        List<String> parts = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = answer.path("node_errors").fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> node = it.next();
            for (JsonNode e : node.getValue().path("errors")) {
                String d = e.path("details").asText("");
                parts.add("node " + node.getKey() + " (" + node.getValue().path("class_type").asText("?") + "): "
                        + e.path("message").asText("error") + (d.isBlank() ? "" : ": " + d));
            }
        }
        return parts;
    }

    /** An {@code execution_error} (contracts 9): the node, the exception type and its message. */
    static String execution(JsonNode data) {
        return "ComfyUI node " + data.path("node_id").asText("?") + " (" + data.path("node_type").asText("?")
                + ") failed: " + data.path("exception_type").asText("error") + ": "
                + data.path("exception_message").asText("").strip();
    }
}
