package dev.atelier.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.HashSet;
import java.util.Set;

/**
 * Turns what a user submits into the API's batch body: a batch body as it is, or a plain task list
 * ({@code [{"crew": "mk1", "task": "Scorpion", "priority": 1}, ...]}) as its {@code jobs}. Crew jobs without a
 * key get one made from their task, so summaries say {@code Scorpion} rather than {@code job-0}.
 */
public final class BatchBody {

    private static final int MAX_KEY = 100;

    private BatchBody() {
    }

    /** The batch body for a parsed file; {@code source} names the file in messages. */
    public static ObjectNode of(JsonNode document, String source) {
        ObjectNode body;
        if (document.isArray()) {
            body = JsonNodeFactory.instance.objectNode();
            body.set("jobs", document);
        } else if (document.isObject() && document.has("jobs")) {
            body = ((ObjectNode) document).deepCopy();
        } else {
            throw new CliException(source + " is neither a batch (an object with \"jobs\") nor a list of tasks "
                    + "([{\"crew\": \"mk1\", \"task\": \"Scorpion\", \"priority\": 1}, ...])");
        }
        JsonNode jobs = body.get("jobs");
        if (!jobs.isArray() || jobs.isEmpty()) {
            throw new CliException(source + ": jobs must be a list of at least one job");
        }
        for (int i = 0; i < jobs.size(); i++) {
            if (!jobs.get(i).isObject()) {
                throw new CliException(source + ": jobs[" + i + "] is not an object (a job is {\"crew\": ..., "
                        + "\"task\": ...} or {\"type\": ..., ...})");
            }
        }
        nameKeys((ArrayNode) jobs);
        return body;
    }

    private static void nameKeys(ArrayNode jobs) {
        Set<String> taken = new HashSet<>();
        jobs.forEach(job -> {
            if (job.hasNonNull("key")) {
                taken.add(job.get("key").asText());
            }
        });
        for (JsonNode job : jobs) {
            if (job.hasNonNull("key") || !job.path("task").isTextual()) {
                continue;
            }
            String base = slug(job.get("task").asText());
            if (base.isEmpty()) {
                continue; // the API names it job-<index>
            }
            String key = base;
            for (int n = 2; taken.contains(key); n++) {
                String suffix = "-" + n;
                key = base.substring(0, Math.min(base.length(), MAX_KEY - suffix.length())) + suffix;
            }
            taken.add(key);
            ((ObjectNode) job).put("key", key);
        }
    }

    /** {@code Create HealthUI.cs} becomes {@code Create-HealthUI.cs}: the API's key alphabet, at most 100 long. */
    static String slug(String task) {
        String slug = task.replaceAll("[^A-Za-z0-9._-]+", "-").replaceAll("^-+|-+$", "");
        return slug.length() > MAX_KEY ? slug.substring(0, MAX_KEY) : slug;
    }
}
