package dev.atelier.store;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Templates that feed one job's output to the next (API.md, "Pipelines"): {@code {{jobs.KEY.text}}},
 * {@code {{jobs.KEY.json.PATH}}} and {@code {{jobs.KEY.artifact}}} in any string of a spec. The gateway reads them to
 * check a request; the store expands them when the last upstream succeeds. Text that does not follow this grammar
 * (a Handlebars example in a prompt) is left alone.
 */
public final class PipelineTemplates {

    /** An expanded spec may hold at most this many characters of JSON, as a submitted one (the gateway's default). */
    public static final int MAX_EXPANDED_SPEC_CHARS = 1_048_576;

    private static final Pattern TEMPLATE = Pattern.compile("\\{\\{\\s*jobs\\.([^{}\\s]+?)\\s*}}");
    private static final Pattern KEY = Pattern.compile("[A-Za-z0-9._-]{1,100}");
    private static final Pattern THINKING = Pattern.compile("<think>.*?</think>", Pattern.DOTALL);
    private static final ObjectMapper JSON = new ObjectMapper();

    /** What a template takes from its upstream. */
    public enum Field { TEXT, JSON, ARTIFACT }

    /**
     * One template in a spec.
     *
     * @param template the template as written, for messages
     * @param path     for {@link Field#JSON}, the dot-separated path (maybe empty, which is an error); else null
     */
    public record Reference(String template, String key, Field field, String path) {
    }

    /**
     * What an upstream left for its dependents.
     *
     * @param resultJson    its result (API.md: {@code text}, {@code thinking}, ...), or null
     * @param firstArtifact the id of its first artifact, or null
     */
    public record Output(String key, String resultJson, UUID firstArtifact) {
    }

    /** An expansion that cannot be made; the message names the template and the upstream. */
    public static final class Failure extends Exception {
        public Failure(String message) {
            super(message);
        }
    }

    private PipelineTemplates() {
    }

    /**
     * The templates in every string of a spec. A key may hold dots ({@code scorpion.1}), so the split between key and
     * field prefers a key of the batch ({@code keys}); a template that names no key of the batch is still returned,
     * split at its first possible place, for the caller to refuse.
     */
    public static List<Reference> references(JsonNode spec, Set<String> keys) {
        List<Reference> found = new ArrayList<>();
        eachString(spec, text -> {
            Matcher m = TEMPLATE.matcher(text);
            while (m.find()) {
                Reference reference = parse(m.group(), m.group(1), keys);
                if (reference != null) {
                    found.add(reference);
                }
            }
        });
        return found;
    }

    /** Whether any string of the spec holds a template. */
    public static boolean hasTemplates(String specJson, Set<String> keys) {
        try {
            return !references(JSON.readTree(specJson), keys).isEmpty();
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("a spec is not JSON", e);
        }
    }

    private static Reference parse(String template, String inner, Set<String> keys) {
        List<Reference> candidates = new ArrayList<>();
        for (int at = inner.indexOf(".json."); at >= 0; at = inner.indexOf(".json.", at + 1)) {
            candidates.add(new Reference(template, inner.substring(0, at), Field.JSON, inner.substring(at + 6)));
        }
        if (inner.endsWith(".json")) {
            candidates.add(new Reference(template, inner.substring(0, inner.length() - 5), Field.JSON, ""));
        }
        if (inner.endsWith(".text")) {
            candidates.add(new Reference(template, inner.substring(0, inner.length() - 5), Field.TEXT, null));
        }
        if (inner.endsWith(".artifact")) {
            candidates.add(new Reference(template, inner.substring(0, inner.length() - 9), Field.ARTIFACT, null));
        }
        candidates.removeIf(c -> !KEY.matcher(c.key()).matches());
        return candidates.stream().filter(c -> keys.contains(c.key())).findFirst()
                .orElse(candidates.isEmpty() ? null : candidates.get(0));
    }

    /**
     * The spec with every template replaced by its upstream's output.
     *
     * @param outputs the upstreams, by key
     * @throws Failure when an output lacks what a template asks for, or the result is over the size cap
     */
    public static String expand(String specJson, Map<String, Output> outputs) throws Failure {
        JsonNode spec;
        try {
            spec = JSON.readTree(specJson);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("a stored spec is not JSON", e);
        }
        JsonNode expanded = new Expansion(outputs).node(spec);
        String json = expanded.toString();
        if (json.length() > MAX_EXPANDED_SPEC_CHARS) {
            throw new Failure("the spec expanded from its upstreams' answers is " + json.length()
                    + " characters of JSON, over the " + MAX_EXPANDED_SPEC_CHARS + " a job may hold");
        }
        return json;
    }

    /**
     * One spec's expansion. Each upstream's answer is read once, and its JSON parsed once, however many templates name
     * it: this runs in the completing transaction, and a spec may hold thousands of templates against one large answer.
     */
    private static final class Expansion {
        private final Map<String, Output> outputs;
        private final Map<String, String> texts = new HashMap<>();
        private final Map<String, JsonNode> jsons = new HashMap<>();

        Expansion(Map<String, Output> outputs) {
            this.outputs = outputs;
        }

        private JsonNode node(JsonNode node) throws Failure {
            if (node.isTextual()) {
                return TextNode.valueOf(text(node.asText()));
            }
            if (node.isObject()) {
                ObjectNode copy = JSON.createObjectNode();
                for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
                    Map.Entry<String, JsonNode> field = it.next();
                    copy.set(field.getKey(), node(field.getValue()));
                }
                return copy;
            }
            if (node.isArray()) {
                ArrayNode copy = JSON.createArrayNode();
                for (JsonNode item : node) {
                    copy.add(node(item));
                }
                return copy;
            }
            return node;
        }

        private String text(String text) throws Failure {
            Matcher m = TEMPLATE.matcher(text);
            StringBuilder out = new StringBuilder();
            int last = 0;
            while (m.find()) {
                Reference reference = parse(m.group(), m.group(1), outputs.keySet());
                if (reference == null) {
                    continue;
                }
                out.append(text, last, m.start()).append(value(reference, outputs.get(reference.key())));
                last = m.end();
                if (out.length() > MAX_EXPANDED_SPEC_CHARS) {
                    throw new Failure("the spec expanded from its upstreams' answers is over the "
                            + MAX_EXPANDED_SPEC_CHARS + " characters a job may hold (at " + reference.template() + ")");
                }
            }
            return out.append(text, last, text.length()).toString();
        }

        private String value(Reference reference, Output output) throws Failure {
            String where = reference.template() + ": upstream job " + (output == null ? reference.key() : output.key());
            if (output == null) {
                throw new Failure(where + " is not one this job waits for");
            }
            switch (reference.field()) {
                case ARTIFACT -> {
                    if (output.firstArtifact() == null) {
                        throw new Failure(where + " stored no artifact");
                    }
                    return output.firstArtifact().toString();
                }
                case TEXT -> {
                    return answerText(output, where);
                }
                default -> {
                    String text = answerText(output, where);
                    JsonNode node = jsons.get(output.key());
                    if (node == null) {
                        try {
                            node = JSON.readTree(text);
                        } catch (JsonProcessingException e) {
                            throw new Failure(where + " answered text that is not JSON: " + preview(text));
                        }
                        jsons.put(output.key(), node);
                    }
                    for (String segment : reference.path().split("\\.", -1)) {
                        JsonNode next = node == null ? null
                                : node.isArray() && segment.matches("\\d{1,9}") ? node.get(Integer.parseInt(segment))
                                : node.isObject() ? node.get(segment) : null;
                        if (next == null) {
                            throw new Failure(where + " answered JSON without '" + reference.path() + "': "
                                    + preview(text));
                        }
                        node = next;
                    }
                    return node.isTextual() ? node.asText() : node.toString();
                }
            }
        }

        /** The answer's text without its thinking (a model that thinks inline writes it between think tags). */
        private String answerText(Output output, String where) throws Failure {
            String known = texts.get(output.key());
            if (known != null) {
                return known;
            }
            JsonNode result;
            try {
                result = output.resultJson() == null ? null : JSON.readTree(output.resultJson());
            } catch (JsonProcessingException e) {
                result = null;
            }
            if (result == null || !result.path("text").isTextual()) {
                throw new Failure(where + " gave no text answer");
            }
            String text = THINKING.matcher(result.get("text").asText()).replaceAll("").strip();
            texts.put(output.key(), text);
            return text;
        }
    }

    private static String preview(String text) {
        return text.length() <= 80 ? "'" + text + "'" : "'" + text.substring(0, 80) + "...'";
    }

    private static void eachString(JsonNode node, Consumer<String> action) {
        if (node == null) {
            return;
        }
        if (node.isTextual()) {
            action.accept(node.asText());
        } else if (node.isContainerNode()) {
            node.forEach(child -> eachString(child, action));
        }
    }
}
