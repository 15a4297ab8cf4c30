package dev.atelier.gateway.service;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atelier.api.Problem.FieldError;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Checks the backend call of a job (or a crew template) before anything is stored, so a bad value is a 400 here
 * rather than a 500 at the backend. Each problem is added to {@code errors} under the field name the client used.
 */
@ApplicationScoped
public class JobSpecValidator {

    public static final Set<String> TYPES = Set.of("ollama.generate", "ollama.chat", "comfyui.workflow");

    private enum OptionType { INTEGER, NUMBER, BOOLEAN, STRINGS }

    /** Ollama's documented options (contracts/ollama-api.md, 4.6) and their JSON types. */
    private static final Map<String, OptionType> OLLAMA_OPTIONS = Map.ofEntries(
            Map.entry("num_keep", OptionType.INTEGER), Map.entry("seed", OptionType.INTEGER),
            Map.entry("num_predict", OptionType.INTEGER), Map.entry("top_k", OptionType.INTEGER),
            Map.entry("repeat_last_n", OptionType.INTEGER), Map.entry("num_ctx", OptionType.INTEGER),
            Map.entry("num_batch", OptionType.INTEGER), Map.entry("num_gpu", OptionType.INTEGER),
            Map.entry("main_gpu", OptionType.INTEGER), Map.entry("num_thread", OptionType.INTEGER),
            Map.entry("draft_num_predict", OptionType.INTEGER),
            Map.entry("top_p", OptionType.NUMBER), Map.entry("min_p", OptionType.NUMBER),
            Map.entry("typical_p", OptionType.NUMBER), Map.entry("temperature", OptionType.NUMBER),
            Map.entry("repeat_penalty", OptionType.NUMBER), Map.entry("presence_penalty", OptionType.NUMBER),
            Map.entry("frequency_penalty", OptionType.NUMBER),
            Map.entry("use_mmap", OptionType.BOOLEAN), Map.entry("stop", OptionType.STRINGS));

    /**
     * Sane bounds for Ollama's integer options, so an absurd value is a 400 here rather than an attempt to allocate
     * the impossible on a GPU: a context of at most 1,048,576 tokens, num_predict from -2 (fill the context) up, at
     * most 1,000 GPU layers. Options not listed take any 32-bit value; seed any 64-bit one.
     */
    private static final Map<String, long[]> INTEGER_RANGES = Map.ofEntries(
            Map.entry("num_ctx", new long[] {1, 1_048_576}), Map.entry("num_predict", new long[] {-2, Integer.MAX_VALUE}),
            Map.entry("num_gpu", new long[] {-1, 1_000}), Map.entry("main_gpu", new long[] {0, 1_000}),
            Map.entry("num_batch", new long[] {1, 1_048_576}), Map.entry("num_thread", new long[] {0, 4_096}),
            Map.entry("num_keep", new long[] {-1, 1_048_576}), Map.entry("repeat_last_n", new long[] {-1, 1_048_576}),
            Map.entry("top_k", new long[] {0, Integer.MAX_VALUE}), Map.entry("draft_num_predict", new long[] {0, 1_048_576}),
            Map.entry("seed", new long[] {Long.MIN_VALUE, Long.MAX_VALUE}));

    /** keep_alive: at most a day, or -1 for as long as Ollama runs. */
    private static final java.time.Duration MAX_KEEP_ALIVE = java.time.Duration.ofHours(24);

    private static final Set<String> CHAT_ROLES = Set.of("system", "user", "assistant", "tool");

    /**
     * Checks a spec of the given type.
     *
     * @param prefix the spec's place in the request, e.g. {@code jobs[2].}, or empty
     */
    public void validate(String type, JsonNode spec, String prefix, List<FieldError> errors) {
        switch (type) {
            case "ollama.generate" -> {
                requireText(spec, "model", prefix, errors);
                requireText(spec, "prompt", prefix, errors);
                optionalText(spec, "system", prefix, errors);
                ollamaCommon(spec, prefix, errors);
                JsonNode images = spec.get("images");
                if (images != null && !isArrayOf(images, JsonNode::isTextual)) {
                    errors.add(new FieldError(prefix + "images", "must be an array of base64 strings"));
                }
            }
            case "ollama.chat" -> {
                requireText(spec, "model", prefix, errors);
                messages(spec.get("messages"), prefix + "messages", errors);
                ollamaCommon(spec, prefix, errors);
            }
            case "comfyui.workflow" -> workflow(spec.get("workflow"), prefix + "workflow", errors);
            default -> errors.add(new FieldError(prefix + "type", "must be one of " + String.join(", ",
                    TYPES.stream().sorted().toList())));
        }
    }

    private void ollamaCommon(JsonNode spec, String prefix, List<FieldError> errors) {
        options(spec.get("options"), prefix + "options", errors);
        JsonNode format = spec.get("format");
        if (format != null && !(format.isTextual() && format.asText().equals("json")) && !format.isObject()) {
            errors.add(new FieldError(prefix + "format", "must be \"json\" or a JSON schema object"));
        }
        JsonNode think = spec.get("think");
        if (think != null && !think.isBoolean()
                && !(think.isTextual() && Set.of("low", "medium", "high").contains(think.asText()))) {
            errors.add(new FieldError(prefix + "think", "must be true, false, \"low\", \"medium\" or \"high\""));
        }
        JsonNode keepAlive = spec.get("keep_alive");
        if (keepAlive != null && !keepAlive.isNull() && !keepAliveWithinADay(keepAlive)) {
            errors.add(new FieldError(prefix + "keep_alive",
                    "must be a duration of at most a day such as \"10m\" or \"24h\", seconds up to 86400, or -1 (keep it loaded)"));
        }
    }

    private void options(JsonNode options, String field, List<FieldError> errors) {
        if (options == null || options.isNull()) {
            return;
        }
        if (!options.isObject()) {
            errors.add(new FieldError(field, "must be an object of Ollama options"));
            return;
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = options.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> option = it.next();
            OptionType expected = OLLAMA_OPTIONS.get(option.getKey());
            String name = field + "." + option.getKey();
            if (expected == null) {
                errors.add(new FieldError(name, "is not an Ollama option"));
                continue;
            }
            JsonNode value = option.getValue();
            long[] range = INTEGER_RANGES.getOrDefault(option.getKey(), new long[] {Integer.MIN_VALUE, Integer.MAX_VALUE});
            boolean ok = switch (expected) {
                case INTEGER -> value.isIntegralNumber() && value.canConvertToLong()
                        && value.longValue() >= range[0] && value.longValue() <= range[1];
                case NUMBER -> value.isNumber() && Double.isFinite(value.doubleValue()) && Math.abs(value.doubleValue()) <= 1e9;
                case BOOLEAN -> value.isBoolean();
                case STRINGS -> isArrayOf(value, JsonNode::isTextual);
            };
            if (!ok) {
                errors.add(new FieldError(name, switch (expected) {
                    case INTEGER -> "must be an integer from " + range[0] + " to " + range[1];
                    case NUMBER -> "must be a finite number (at most 1e9 either way)";
                    case BOOLEAN -> "must be true or false";
                    case STRINGS -> "must be an array of strings";
                }));
            }
        }
    }

    /** Ollama's keep_alive (contracts 4.5): a JSON number of seconds, or a Go duration such as "10m" or "1h30m". */
    private static boolean keepAliveWithinADay(JsonNode value) {
        if (value.isIntegralNumber()) {
            return value.canConvertToLong() && (value.longValue() == -1
                    || value.longValue() >= 0 && value.longValue() <= MAX_KEEP_ALIVE.toSeconds());
        }
        if (!value.isTextual()) {
            return false;
        }
        String text = value.textValue().trim();
        if (text.equals("-1") || text.equals("0")) {
            return true;
        }
        java.util.regex.Matcher part = GO_DURATION_PART.matcher(text);
        if (!GO_DURATION.matcher(text).matches()) {
            return false;
        }
        double seconds = 0;
        while (part.find()) {
            double amount = Double.parseDouble(part.group(1));
            seconds += amount * switch (part.group(2)) {
                case "h" -> 3600;
                case "m" -> 60;
                case "s" -> 1;
                case "ms" -> 1e-3;
                case "us", "µs" -> 1e-6;
                default -> 1e-9;
            };
        }
        return seconds <= MAX_KEEP_ALIVE.toSeconds();
    }

    private static final java.util.regex.Pattern GO_DURATION =
            java.util.regex.Pattern.compile("(\\d{1,9}(\\.\\d{1,9})?(h|m|s|ms|us|µs|ns))+");
    private static final java.util.regex.Pattern GO_DURATION_PART =
            java.util.regex.Pattern.compile("(\\d{1,9}(?:\\.\\d{1,9})?)(h|ms|m|s|us|µs|ns)");

    private void messages(JsonNode messages, String field, List<FieldError> errors) {
        if (messages == null || !messages.isArray() || messages.isEmpty()) {
            errors.add(new FieldError(field, "must be a non-empty array of messages"));
            return;
        }
        for (int i = 0; i < messages.size(); i++) {
            JsonNode message = messages.get(i);
            String at = field + "[" + i + "]";
            if (!message.isObject()) {
                errors.add(new FieldError(at, "must be an object with role and content"));
                continue;
            }
            JsonNode role = message.get("role");
            if (role == null || !role.isTextual() || !CHAT_ROLES.contains(role.asText())) {
                errors.add(new FieldError(at + ".role", "must be one of assistant, system, tool, user"));
            }
            JsonNode content = message.get("content");
            if (content == null || !content.isTextual()) {
                errors.add(new FieldError(at + ".content", "must be a string"));
            }
        }
    }

    private void workflow(JsonNode workflow, String field, List<FieldError> errors) {
        if (workflow == null || !workflow.isObject() || workflow.isEmpty()) {
            errors.add(new FieldError(field, "must be an API-format graph: an object of nodes"));
            return;
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = workflow.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> node = it.next();
            String at = field + "." + node.getKey();
            JsonNode value = node.getValue();
            if (!value.isObject()) {
                errors.add(new FieldError(at, "must be a node object with class_type and inputs"));
                continue;
            }
            JsonNode classType = value.get("class_type");
            if (classType == null || !classType.isTextual() || classType.asText().isBlank()) {
                errors.add(new FieldError(at + ".class_type", "must be a non-empty string"));
            }
            JsonNode inputs = value.get("inputs");
            if (inputs == null || !inputs.isObject()) {
                errors.add(new FieldError(at + ".inputs", "must be an object"));
                continue;
            }
            for (Iterator<Map.Entry<String, JsonNode>> in = inputs.fields(); in.hasNext(); ) {
                Map.Entry<String, JsonNode> input = in.next();
                if (input.getValue().isObject() && input.getValue().has("artifact")) {
                    artifactInput(input.getValue(), at + ".inputs." + input.getKey(), errors);
                }
            }
        }
    }

    /** An earlier output as an input, {@code {"artifact": "<id>"}}: the executor uploads it before the run. */
    private static void artifactInput(JsonNode value, String field, List<FieldError> errors) {
        JsonNode id = value.get("artifact");
        if (value.size() != 1) {
            errors.add(new FieldError(field, "an artifact input is {\"artifact\": \"<id>\"} and nothing else"));
        } else if (!id.isTextual() || !(UUID_TEXT.matcher(id.asText()).matches()
                                          || ARTIFACT_TEMPLATE.matcher(id.asText()).matches())) {
            errors.add(new FieldError(field + ".artifact",
                    "must be an artifact id (a UUID) or {{jobs.KEY.artifact}}, an upstream's first artifact"));
        }
    }

    // an upstream's output (pipelines): BatchRequestValidator checks the key against the job's after
    private static final java.util.regex.Pattern ARTIFACT_TEMPLATE =
            java.util.regex.Pattern.compile("\\{\\{\\s*jobs\\.[A-Za-z0-9._-]{1,100}\\.artifact\\s*}}");

    private static final java.util.regex.Pattern UUID_TEXT =
            java.util.regex.Pattern.compile("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}");

    private static void requireText(JsonNode spec, String name, String prefix, List<FieldError> errors) {
        JsonNode value = spec.get(name);
        if (value == null || value.isNull()) {
            errors.add(new FieldError(prefix + name, "is required"));
        } else if (!value.isTextual() || value.asText().isBlank()) {
            errors.add(new FieldError(prefix + name, "must be a non-blank string"));
        }
    }

    private static void optionalText(JsonNode spec, String name, String prefix, List<FieldError> errors) {
        JsonNode value = spec.get(name);
        if (value != null && !value.isNull() && !value.isTextual()) {
            errors.add(new FieldError(prefix + name, "must be a string"));
        }
    }

    private static boolean isArrayOf(JsonNode node, java.util.function.Predicate<JsonNode> element) {
        if (!node.isArray()) {
            return false;
        }
        for (JsonNode item : node) {
            if (!element.test(item)) {
                return false;
            }
        }
        return true;
    }
}
