package dev.atelier.gateway.service;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atelier.api.Problem.FieldError;
import dev.atelier.store.BatchMode;
import dev.atelier.store.PipelineTemplates;
import dev.atelier.store.PipelineTemplates.Reference;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The rules of a batch's pipelines (API.md, "Pipelines"; DESIGN.md, ordering): every key in {@code after} names
 * another job of the batch, the edges make no cycle and point only where the batch's mode lets the upstream run no
 * later, and each template names a job in {@code after} and asks it for something it gives.
 */
final class PipelineRules {

    /** What the rules need of one job of the request. */
    record Job(int index, String key, int priority, String type, JsonNode spec, List<String> after) {
        String at() {
            return "jobs[" + index + "]";
        }
    }

    private PipelineRules() {
    }

    static void check(List<Job> jobs, BatchMode mode, List<FieldError> errors) {
        Map<String, Job> byKey = new HashMap<>();
        jobs.forEach(job -> byKey.put(job.key(), job));
        boolean edgesValid = true;
        for (Job job : jobs) {
            for (String key : job.after()) {
                Job upstream = byKey.get(key);
                String field = job.at() + ".after";
                if (key.equals(job.key())) {
                    errors.add(new FieldError(field, "job '" + job.key() + "' cannot wait for itself"));
                } else if (upstream == null) {
                    errors.add(new FieldError(field, "no job of this batch has the key '" + key + "'"));
                } else if (mode == BatchMode.PRIORITY && upstream.priority() > job.priority()) {
                    errors.add(new FieldError(field, "'" + key + "' is in priority group " + upstream.priority()
                            + ", which runs after this job's group " + job.priority()
                            + ": in a priority batch a job may wait only for jobs of its own or an earlier group"));
                } else if (mode == BatchMode.SEQUENTIAL && upstream.index() > job.index()) {
                    errors.add(new FieldError(field, "'" + key + "' comes later in this sequential batch, which runs"
                            + " its jobs in order: a job may wait only for earlier ones"));
                } else {
                    continue;
                }
                edgesValid = false;
            }
        }
        if (edgesValid) {
            cycle(jobs, byKey, errors);
        }
        for (Job job : jobs) {
            templates(job, byKey, errors);
        }
    }

    /** Reports one cycle, if any, as the keys around it (an iterative walk: a chain of 10,000 jobs is fine). */
    private static void cycle(List<Job> jobs, Map<String, Job> byKey, List<FieldError> errors) {
        Map<String, Integer> state = new HashMap<>(); // 1: on the walk's path, 2: done
        for (Job start : jobs) {
            if (state.containsKey(start.key())) {
                continue;
            }
            Deque<Job> path = new ArrayDeque<>();
            Deque<Integer> next = new ArrayDeque<>();
            path.push(start);
            next.push(0);
            state.put(start.key(), 1);
            while (!path.isEmpty()) {
                Job job = path.peek();
                int i = next.pop();
                if (i == job.after().size()) {
                    state.put(job.key(), 2);
                    path.pop();
                    continue;
                }
                next.push(i + 1);
                Job upstream = byKey.get(job.after().get(i));
                Integer seen = state.get(upstream.key());
                if (seen == null) {
                    state.put(upstream.key(), 1);
                    path.push(upstream);
                    next.push(0);
                } else if (seen == 1) {
                    // the path runs from each job to one it waits for; the cycle is upstream ... job, upstream
                    List<String> around = new ArrayList<>();
                    for (Job onPath : path) { // newest first, back to the upstream
                        around.add(0, "'" + onPath.key() + "'");
                        if (onPath == upstream) {
                            break;
                        }
                    }
                    around.add("'" + upstream.key() + "'");
                    errors.add(new FieldError(job.at() + ".after", "jobs wait for each other in a cycle, so none"
                            + " could ever start: " + String.join(" waits for ", around)));
                    return;
                }
            }
        }
    }

    /** Each template names a job in after, and asks it for what its type gives. */
    private static void templates(Job job, Map<String, Job> byKey, List<FieldError> errors) {
        // the model decides which executors may claim the job, before any upstream has answered
        if (!PipelineTemplates.references(job.spec().path("model"), byKey.keySet()).isEmpty()) {
            errors.add(new FieldError(job.at() + ".model", "cannot come from a template: it decides which"
                    + " executors may claim the job before its upstreams answer"));
        }
        // a set: one string may hold thousands of templates, and after thousands of keys
        java.util.Set<String> after = java.util.Set.copyOf(job.after());
        for (Reference reference : PipelineTemplates.references(job.spec(), byKey.keySet())) {
            Job upstream = byKey.get(reference.key());
            String problem;
            if (!after.contains(reference.key())) {
                problem = "names job '" + reference.key() + "', which is not in this job's after";
            } else if (upstream == null) {
                continue; // an unknown key in after, reported there
            } else if (reference.field() == PipelineTemplates.Field.ARTIFACT && upstream.type().startsWith("ollama")) {
                problem = "'" + reference.key() + "' is an Ollama job: it stores no artifact";
            } else if (reference.field() != PipelineTemplates.Field.ARTIFACT && upstream.type().startsWith("comfyui")) {
                problem = "'" + reference.key() + "' is a ComfyUI job: it answers with images, use "
                        + "{{jobs." + reference.key() + ".artifact}}";
            } else if (reference.field() == PipelineTemplates.Field.JSON && !upstream.spec().hasNonNull("format")) {
                problem = "'" + reference.key() + "' has no format, so its answer is text, not JSON: give it "
                        + "\"format\": \"json\" or use {{jobs." + reference.key() + ".text}}";
            } else if (reference.field() == PipelineTemplates.Field.JSON
                    && (reference.path().isEmpty() || reference.path().startsWith(".")
                        || reference.path().endsWith(".") || reference.path().contains(".."))) {
                problem = "the path after json. must be field names separated by dots";
            } else {
                continue;
            }
            errors.add(new FieldError(job.at(), "template " + reference.template() + " " + problem));
        }
    }
}
