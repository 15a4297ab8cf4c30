package dev.atelier.gateway.service;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A crew job as the jobs it becomes (API.md, "Pipelines"). A crew whose template is one object is one job; a crew
 * whose template is a list of steps is a chain: the steps take the crew job's key with {@code .1}, {@code .2}, ...
 * appended, except the last, which takes the key itself (so {@code after: ["scorpion"]} waits for the whole chain).
 * The first step waits for what the crew job waits for, each other step for the one before, and
 * {@code {{previous.text}}}, {@code {{previous.json.PATH}}} and {@code {{previous.artifact}}} name the step before.
 */
final class CrewSteps {

    /** A crew may chain at most this many steps. */
    static final int MAX_STEPS = 20;
    /** A key of 100 characters (the most a key may have) less room for ".20". */
    static final int MAX_KEY_WITH_STEPS = 97;

    private static final Pattern PREVIOUS = Pattern.compile("\\{\\{(\\s*)previous\\.");

    /** One job of a crew job. */
    record Step(String key, String type, ObjectNode spec, List<String> after) {
    }

    private CrewSteps() {
    }

    /** The jobs of a crew job whose template ({task} already replaced) is one object or a list of steps. */
    static List<Step> of(JsonNode template, String key, List<String> after) {
        if (!template.isArray()) {
            ObjectNode spec = template.deepCopy();
            return List.of(new Step(key, spec.remove("type").asText(), spec, after));
        }
        List<Step> steps = new ArrayList<>();
        for (int i = 0; i < template.size(); i++) {
            String stepKey = i == template.size() - 1 ? key : key + "." + (i + 1);
            ObjectNode spec = i == 0 ? template.get(i).deepCopy()
                    : (ObjectNode) previous(template.get(i), steps.get(i - 1).key());
            String type = spec.remove("type").asText();
            steps.add(new Step(stepKey, type, spec, i == 0 ? after : List.of(steps.get(i - 1).key())));
        }
        return steps;
    }

    /** Whether any string of a step names the step before (the first step has none). */
    static boolean usesPrevious(JsonNode step) {
        if (step.isTextual()) {
            return PREVIOUS.matcher(step.asText()).find();
        }
        for (JsonNode child : step) {
            if (usesPrevious(child)) {
                return true;
            }
        }
        return false;
    }

    /** The step with {{previous.X}} written as {{jobs.KEY.X}} in every string. */
    private static JsonNode previous(JsonNode node, String previousKey) {
        if (node.isTextual()) {
            Matcher m = PREVIOUS.matcher(node.asText());
            return TextNode.valueOf(m.replaceAll(r -> Matcher.quoteReplacement("{{" + r.group(1) + "jobs."
                    + previousKey + ".")));
        }
        if (node.isObject()) {
            ObjectNode copy = node.deepCopy();
            for (Map.Entry<String, JsonNode> field : node.properties()) {
                copy.set(field.getKey(), previous(field.getValue(), previousKey));
            }
            return copy;
        }
        if (node.isArray()) {
            ArrayNode copy = ((ArrayNode) node).arrayNode();
            node.forEach(item -> copy.add(previous(item, previousKey)));
            return copy;
        }
        return node;
    }
}
