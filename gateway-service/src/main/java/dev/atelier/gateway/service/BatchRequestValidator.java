package dev.atelier.gateway.service;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import dev.atelier.api.Problem;
import dev.atelier.api.Problem.FieldError;
import dev.atelier.store.BatchMode;
import dev.atelier.store.NewBatch;
import dev.atelier.store.TimeOrderedIds;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.validation.Validator;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * Reads a batch request (API.md, POST /api/v1/batches) and reports every bad field at once, under the name the
 * client used ({@code jobs[2].model}). The body is read as a JSON tree rather than bound to classes, so that a
 * wrong type in one field does not hide the mistakes in the others. Crew jobs expand here, from the stored
 * template, so a later edit of the crew does not change them.
 */
@ApplicationScoped
public class BatchRequestValidator {

    public static final int MAX_JOBS = 10_000;
    private static final Pattern LABEL_KEY = Pattern.compile("[A-Za-z0-9._-]{1,63}");
    static final Set<String> BATCH_FIELDS = Set.of("name", "mode", "priority", "retry", "labels", "jobs");
    static final Set<String> RETRY_FIELDS = Set.of("max_attempts", "delay", "backoff");
    static final Set<String> JOB_FIELDS = Set.of("key", "type", "crew", "task", "priority", "timeout",
            "max_attempts", "after");
    static final Map<String, Set<String>> SPEC_FIELDS = Map.of(
            "ollama.generate", Set.of("model", "prompt", "system", "options", "format", "think", "keep_alive", "images"),
            "ollama.chat", Set.of("model", "messages", "options", "format", "think", "keep_alive"),
            "comfyui.workflow", Set.of("workflow"));

    /** What a valid request becomes; {@code unknownCrews} lists the fields naming crews that do not exist. */
    public record Result(NewBatch batch, List<FieldError> errors, List<FieldError> unknownCrews) {
    }

    @Inject
    JobSpecValidator specs;

    @Inject
    CrewService crews;

    @Inject
    Validator validator;

    /**
     * A job's spec, as stored, in characters of JSON: a crew template with {task} in it many times, given a long
     * task, would otherwise expand to hundreds of millions of characters from a small request.
     */
    @ConfigProperty(name = "atelier.gateway.max-job-spec-chars", defaultValue = "1048576")
    int maxJobSpecChars;

    /** All of a batch's job specs together, in characters of JSON: what one submit may hold in memory and store. */
    @ConfigProperty(name = "atelier.gateway.max-batch-spec-chars", defaultValue = "33554432")
    long maxBatchSpecChars;

    public Result read(JsonNode body, String submittedBy, String idempotencyKey, String requestHash) {
        Problem.FieldErrors errors = new Problem.FieldErrors();
        Problem.FieldErrors unknownCrews = new Problem.FieldErrors();
        if (body == null || !body.isObject()) {
            errors.add(new FieldError("", "the body must be a JSON object"));
            return new Result(null, errors, unknownCrews);
        }
        unknownFields(body, BATCH_FIELDS, "", errors);
        String name = text(body, "name", "", errors);
        BatchMode mode = BatchMode.PRIORITY;
        JsonNode modeNode = body.get("mode");
        if (modeNode != null && !modeNode.isNull()) {
            try {
                mode = BatchMode.fromWire(modeNode.isTextual() ? modeNode.asText() : "?");
            } catch (IllegalArgumentException e) {
                errors.add(new FieldError("mode", "must be priority, parallel or sequential"));
            }
        }
        int priority = integer(body, "priority", "", errors, 1);
        int maxAttempts = 3;
        Duration delay = Duration.ofSeconds(5);
        double backoff = 2.0;
        JsonNode retry = body.get("retry");
        if (retry != null && !retry.isNull()) {
            if (!retry.isObject()) {
                errors.add(new FieldError("retry", "must be an object with max_attempts, delay and backoff"));
            } else {
                unknownFields(retry, RETRY_FIELDS, "retry.", errors);
                maxAttempts = integer(retry, "max_attempts", "retry.", errors, maxAttempts);
                delay = duration(retry, "delay", "retry.", errors, delay);
                backoff = number(retry, "backoff", "retry.", errors, backoff);
            }
        }
        RequestRules.check(validator, new RequestRules.BatchFields(name, priority,
                new RequestRules.RetryFields(maxAttempts, delay, backoff)), "", errors);
        String labels = labels(body.get("labels"), errors);
        List<NewBatch.NewJob> jobs = jobs(body.get("jobs"), mode, errors, unknownCrews);
        if (!errors.isEmpty() || !unknownCrews.isEmpty()) {
            return new Result(null, errors, unknownCrews);
        }
        return new Result(new NewBatch(TimeOrderedIds.next(), name, mode, priority, labels, maxAttempts, delay, backoff,
                submittedBy, idempotencyKey, requestHash, jobs), errors, unknownCrews);
    }

    private List<NewBatch.NewJob> jobs(JsonNode jobs, BatchMode mode, Problem.FieldErrors errors,
                                       Problem.FieldErrors unknownCrews) {
        if (jobs == null || jobs.isNull()) {
            errors.add(new FieldError("jobs", "is required"));
            return List.of();
        }
        if (!jobs.isArray()) {
            errors.add(new FieldError("jobs", "must be an array of jobs"));
            return List.of();
        }
        if (jobs.isEmpty() || jobs.size() > MAX_JOBS) {
            errors.add(new FieldError("jobs", "must hold 1 to " + MAX_JOBS + " jobs, not " + jobs.size()));
            return List.of();
        }
        List<NewBatch.NewJob> out = new ArrayList<>(jobs.size());
        Set<String> keys = new HashSet<>();
        Map<String, Optional<CrewTemplate>> crewCache = new java.util.HashMap<>();
        long batchSpecChars = 0;
        List<PipelineRules.Job> planned = new ArrayList<>(jobs.size());
        for (int i = 0; i < jobs.size(); i++) {
            String at = "jobs[" + i + "].";
            JsonNode job = jobs.get(i);
            if (!job.isObject()) {
                errors.add(new FieldError("jobs[" + i + "]", "must be an object"));
                continue;
            }
            int before = errors.total() + unknownCrews.total();
            String key = job.has("key") ? text(job, "key", at, errors) : "job-" + i;
            if (key != null && !keys.add(key)) {
                errors.add(new FieldError(at + "key", "'" + key + "' is used by another job of this batch"));
            }
            int priority = integer(job, "priority", at, errors, 1);
            Integer maxAttempts = job.hasNonNull("max_attempts") ? integer(job, "max_attempts", at, errors, 3) : null;
            Duration timeout = duration(job, "timeout", at, errors, null);
            List<String> after = after(job.get("after"), at, errors);
            boolean crewJob = job.has("crew") || job.has("task");
            String crew = crewJob ? text(job, "crew", at, errors) : null;
            String task = crewJob ? text(job, "task", at, errors) : null;
            RequestRules.check(validator, new RequestRules.JobFields(key, priority, maxAttempts, timeout, crew, task),
                    at, errors);
            List<CrewSteps.Step> steps;
            if (crewJob) {
                if (job.has("type")) {
                    errors.add(new FieldError(at + "type", "a crew job takes its type from the crew; leave type out"));
                }
                Set<String> allowed = new HashSet<>(JOB_FIELDS);
                allowed.remove("type");
                unknownFields(job, allowed, at, errors);
                if (errors.total() + unknownCrews.total() > before) {
                    continue;
                }
                Optional<CrewTemplate> found = crewCache.computeIfAbsent(crew, name -> crews.find(name).map(CrewTemplate::of));
                if (found.isEmpty()) {
                    unknownCrews.add(new FieldError(at + "crew", "no crew named '" + crew + "'"));
                    continue;
                }
                long expandedChars = found.get().expandedChars(task);
                long allowedChars = (long) maxJobSpecChars * (found.get().template().isArray() ? found.get().template().size() : 1);
                if (expandedChars > allowedChars) {
                    errors.add(new FieldError(at + "task", "crew '" + crew + "' with this task expands to about "
                            + expandedChars + " characters, over the " + maxJobSpecChars + " a job may hold"));
                    continue;
                }
                JsonNode expanded = expand(found.get().template(), task);
                if (expanded.isArray() && key.length() > CrewSteps.MAX_KEY_WITH_STEPS) {
                    errors.add(new FieldError(at + "key", "crew '" + crew + "' has steps, whose keys add .1, .2, ..."
                            + " to this one: it may have at most " + CrewSteps.MAX_KEY_WITH_STEPS + " characters"));
                    continue;
                }
                steps = CrewSteps.of(expanded, key, after);
            } else {
                JsonNode typeNode = job.get("type");
                if (typeNode == null || !typeNode.isTextual() || !JobSpecValidator.TYPES.contains(typeNode.asText())) {
                    errors.add(new FieldError(at + "type",
                            "must be ollama.generate, ollama.chat or comfyui.workflow (or give crew and task)"));
                    continue;
                }
                String type = typeNode.asText();
                Set<String> allowed = new HashSet<>(JOB_FIELDS);
                allowed.addAll(SPEC_FIELDS.get(type));
                unknownFields(job, allowed, at, errors);
                ObjectNode spec = job.deepCopy();
                spec.remove(JOB_FIELDS);
                specs.validate(type, spec, at, errors);
                steps = List.of(new CrewSteps.Step(key, type, spec, after));
            }
            if (errors.total() + unknownCrews.total() > before) {
                continue;
            }
            if (out.size() + steps.size() > MAX_JOBS) {
                errors.add(new FieldError("jobs", "the crews' steps make more than the " + MAX_JOBS
                        + " jobs a batch may hold (reached at jobs[" + i + "]); split the batch"));
                return List.of();
            }
            for (CrewSteps.Step step : steps) {
                if (!step.key().equals(key) && !keys.add(step.key())) {
                    errors.add(new FieldError(at + "key", "its crew's steps take the key '" + step.key()
                            + "', which another job of this batch uses"));
                    break;
                }
                Duration stepTimeout = timeout != null ? timeout
                        : step.type().startsWith("comfyui") ? Duration.ofMinutes(30) : Duration.ofMinutes(10);
                String specJson = step.spec().toString();
                if (specJson.length() > maxJobSpecChars) {
                    errors.add(new FieldError(at.substring(0, at.length() - 1), "the job's spec is " + specJson.length()
                            + " characters of JSON, over the " + maxJobSpecChars + " a job may hold"));
                    break;
                }
                batchSpecChars += specJson.length();
                if (batchSpecChars > maxBatchSpecChars) {
                    errors.add(new FieldError("jobs", "the jobs' specs add up to more than the " + maxBatchSpecChars
                            + " characters of JSON a batch may hold (reached at jobs[" + i + "]); split the batch"));
                    return List.of();
                }
                String model = step.spec().hasNonNull("model") ? step.spec().get("model").asText() : null;
                out.add(new NewBatch.NewJob(TimeOrderedIds.next(), step.key(), priority, step.type(), model, crew, task,
                        specJson, stepTimeout, maxAttempts, step.after()));
                planned.add(new PipelineRules.Job(i, step.key(), priority, step.type(), step.spec(), step.after()));
            }
        }
        if (errors.isEmpty() && unknownCrews.isEmpty()) {
            PipelineRules.check(planned, mode, errors);
        }
        return out;
    }

    /** A job's {@code after}: the keys of jobs of the batch it waits for (pipelines). */
    private static List<String> after(JsonNode after, String at, List<FieldError> errors) {
        if (after == null || after.isNull()) {
            return List.of();
        }
        if (!after.isArray() || after.size() > MAX_JOBS) {
            errors.add(new FieldError(at + "after", "must be an array of the keys of jobs of this batch"));
            return List.of();
        }
        java.util.LinkedHashSet<String> keys = new java.util.LinkedHashSet<>();
        for (JsonNode key : after) {
            if (!key.isTextual()) {
                errors.add(new FieldError(at + "after", "must be an array of the keys of jobs of this batch"));
                return List.of();
            }
            if (!keys.add(key.asText())) {
                errors.add(new FieldError(at + "after", "names '" + key.asText() + "' twice"));
                return List.of();
            }
        }
        return List.copyOf(keys);
    }

    /** A crew's template with what it takes to foresee an expansion's size without making it. */
    private record CrewTemplate(JsonNode template, int chars, int placeholders) {
        static CrewTemplate of(CrewService.Crew crew) {
            String text = crew.template().toString();
            int placeholders = 0;
            for (int at = text.indexOf(CrewService.TASK_PLACEHOLDER); at >= 0;
                 at = text.indexOf(CrewService.TASK_PLACEHOLDER, at + 1)) {
                placeholders++;
            }
            return new CrewTemplate(crew.template(), text.length(), placeholders);
        }

        /** At most the characters of JSON the expanded spec takes: each placeholder becomes the task, escaped. */
        long expandedChars(String task) {
            long taskChars = TextNode.valueOf(task).toString().length() - 2L;
            return chars + placeholders * (taskChars - CrewService.TASK_PLACEHOLDER.length());
        }
    }

    /** The template with {task} replaced in every string, at any depth. */
    private static JsonNode expand(JsonNode node, String task) {
        if (node.isTextual()) {
            return TextNode.valueOf(node.asText().replace(CrewService.TASK_PLACEHOLDER, task));
        }
        JsonNode copy = node.deepCopy();
        if (copy.isObject()) {
            ObjectNode object = (ObjectNode) copy;
            for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> field = it.next();
                object.set(field.getKey(), expand(field.getValue(), task));
            }
        } else if (copy.isArray()) {
            var array = (com.fasterxml.jackson.databind.node.ArrayNode) copy;
            for (int i = 0; i < node.size(); i++) {
                array.set(i, expand(node.get(i), task));
            }
        }
        return copy;
    }

    private static String labels(JsonNode labels, List<FieldError> errors) {
        if (labels == null || labels.isNull()) {
            return "{}";
        }
        if (!labels.isObject()) {
            errors.add(new FieldError("labels", "must be an object of string values"));
            return "{}";
        }
        if (labels.size() > 20) {
            errors.add(new FieldError("labels", "at most 20 labels, not " + labels.size()));
            return "{}";
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = labels.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> label = it.next();
            String at = "labels." + label.getKey();
            if (!LABEL_KEY.matcher(label.getKey()).matches()) {
                errors.add(new FieldError(at, "label keys must match [A-Za-z0-9._-]{1,63}"));
            }
            if (!label.getValue().isTextual() || label.getValue().asText().length() > 256) {
                errors.add(new FieldError(at, "must be a string of at most 256 characters"));
            }
        }
        return labels.toString();
    }

    private static void unknownFields(JsonNode object, Set<String> allowed, String prefix, List<FieldError> errors) {
        for (Iterator<String> names = object.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!allowed.contains(name)) {
                errors.add(new FieldError(prefix + name, "unknown field"));
            }
        }
    }

    /** The string at {@code name}, or null (with an error) when it is missing or not a string. */
    private static String text(JsonNode object, String name, String prefix, List<FieldError> errors) {
        JsonNode value = object.get(name);
        if (value == null || value.isNull()) {
            errors.add(new FieldError(prefix + name, "is required"));
            return null;
        }
        if (!value.isTextual()) {
            errors.add(new FieldError(prefix + name, "must be a string"));
            return null;
        }
        return value.asText();
    }

    // The readers below check only the JSON type; RequestRules checks the ranges. A wrong type yields the
    // default, so that the range check does not report the same field twice.

    private static int integer(JsonNode object, String name, String prefix, List<FieldError> errors, int fallback) {
        JsonNode value = object.get(name);
        if (value == null || value.isNull()) {
            return fallback;
        }
        if (!value.isIntegralNumber() || !value.canConvertToInt()) {
            errors.add(new FieldError(prefix + name, "must be an integer"));
            return fallback;
        }
        return value.asInt();
    }

    private static double number(JsonNode object, String name, String prefix, List<FieldError> errors,
                                 double fallback) {
        JsonNode value = object.get(name);
        if (value == null || value.isNull()) {
            return fallback;
        }
        if (!value.isNumber() || !Double.isFinite(value.asDouble())) {
            errors.add(new FieldError(prefix + name, "must be a number"));
            return fallback;
        }
        return value.asDouble();
    }

    private static Duration duration(JsonNode object, String name, String prefix, List<FieldError> errors,
                                     Duration fallback) {
        JsonNode value = object.get(name);
        if (value == null || value.isNull()) {
            return fallback;
        }
        try {
            if (value.isTextual()) {
                return Duration.parse(value.asText());
            }
        } catch (DateTimeParseException e) {
            // reported below
        }
        errors.add(new FieldError(prefix + name, "must be an ISO-8601 duration such as PT5S"));
        return fallback;
    }
}
