package dev.atelier.store.testing;

import dev.atelier.store.BatchMode;
import dev.atelier.store.NewBatch;
import dev.atelier.store.NewBatch.NewJob;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/** Test factory for batches; every value is valid unless a test changes it. */
public final class Batches {

    public static final String MODEL = "deepseek-r1:32b";

    private final BatchMode mode;
    private int priority = 1;
    private int maxAttempts = 3;
    private Duration retryDelay = Duration.ofSeconds(5);
    private double retryBackoff = 2.0;
    private String name;
    private String labelsJson = "{}";
    private String submittedBy;
    private String idempotencyKey;
    private String requestHash;
    private final List<NewJob> jobs = new ArrayList<>();

    private Batches(BatchMode mode) {
        this.mode = mode;
    }

    public static Batches batch(BatchMode mode) {
        return new Batches(mode);
    }

    public Batches priority(int priority) {
        this.priority = priority;
        return this;
    }

    public Batches name(String name) {
        this.name = name;
        return this;
    }

    /** Labels as a JSON object, e.g. {@code {"project": "mk1"}}. */
    public Batches labels(String labelsJson) {
        this.labelsJson = labelsJson;
        return this;
    }

    public Batches retry(int maxAttempts, Duration delay, double backoff) {
        this.maxAttempts = maxAttempts;
        this.retryDelay = delay;
        this.retryBackoff = backoff;
        return this;
    }

    public Batches idempotency(String submittedBy, String key, String requestHash) {
        this.submittedBy = submittedBy;
        this.idempotencyKey = key;
        this.requestHash = requestHash;
        return this;
    }

    /** Adds {@code count} Ollama jobs of one job priority. */
    public Batches ollamaJobs(int count, int jobPriority) {
        return jobs(count, jobPriority, "ollama.generate", MODEL);
    }

    /** Adds {@code count} jobs of a type and model (null model for ComfyUI). */
    public Batches jobs(int count, int jobPriority, String type, String model) {
        for (int i = 0; i < count; i++) {
            String key = "job-" + jobs.size();
            String spec = type.startsWith("ollama")
                    ? "{\"model\": \"" + model + "\", \"prompt\": \"Write line " + jobs.size() + "\"}"
                    : "{\"workflow\": {\"3\": {\"class_type\": \"KSampler\", \"inputs\": {}}}}";
            jobs.add(new NewJob(UUID.randomUUID(), key, jobPriority, type, model, null, null, spec,
                    Duration.ofMinutes(10), null));
        }
        return this;
    }

    /** Adds one job with its own spec (a prompt that tells a fake backend how to behave, say) and timeout. */
    public Batches job(String type, String model, String specJson, Duration timeout) {
        jobs.add(new NewJob(UUID.randomUUID(), "job-" + jobs.size(), 1, type, model, null, null, specJson, timeout,
                null));
        return this;
    }

    /**
     * Adds one job with a key of its own that waits for other jobs of the batch (pipelines); an Ollama job when the
     * spec has a prompt, else a ComfyUI workflow.
     */
    public Batches step(String key, int jobPriority, String specJson, String... after) {
        boolean ollama = specJson.contains("\"prompt\"");
        jobs.add(new NewJob(UUID.randomUUID(), key, jobPriority, ollama ? "ollama.generate" : "comfyui.workflow",
                ollama ? MODEL : null, null, null, specJson, Duration.ofMinutes(10), null, List.of(after)));
        return this;
    }

    /** Adds one Ollama job with a key of its own, waiting for the jobs named (pipelines). */
    public Batches step(String key, String prompt, String... after) {
        return step(key, 1, "{\"model\": \"" + MODEL + "\", \"prompt\": " + json(prompt) + "}", after);
    }

    private static String json(String text) {
        return "\"" + text.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }

    /** Adds one Ollama job of a crew (API.md: crew jobs show their crew and task in the exports). */
    public Batches crewJob(String crew, String task) {
        jobs.add(new NewJob(UUID.randomUUID(), "job-" + jobs.size(), 1, "ollama.generate", MODEL, crew, task,
                "{\"model\": \"" + MODEL + "\", \"prompt\": \"Write " + jobs.size() + "\"}", Duration.ofMinutes(10),
                null));
        return this;
    }

    public NewBatch build() {
        return new NewBatch(UUID.randomUUID(), name != null ? name : "test " + mode.wire(), mode, priority, labelsJson, maxAttempts, retryDelay,
                retryBackoff, submittedBy, idempotencyKey, requestHash, List.copyOf(jobs));
    }
}
