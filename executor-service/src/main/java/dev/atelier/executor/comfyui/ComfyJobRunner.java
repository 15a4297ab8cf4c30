package dev.atelier.executor.comfyui;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atelier.executor.backend.CallFailure;
import dev.atelier.executor.config.ArtifactsConfig;
import dev.atelier.executor.config.BackendsConfig;
import dev.atelier.executor.service.CallControl;
import dev.atelier.executor.service.JobRunner;
import dev.atelier.store.Artifacts.ArtifactInfo;
import dev.atelier.store.Artifacts.NewArtifact;
import dev.atelier.store.Artifacts;
import dev.atelier.store.AttemptOutcomes;
import dev.atelier.store.ClaimedJob;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.nio.file.Files;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/**
 * Runs {@code comfyui.workflow} jobs, durably: ComfyUI keeps its queue only in memory, so the run's
 * {@code prompt_id} is made here and committed to the job before {@code POST /prompt}. A later attempt (after a
 * crash, a restart or a hand-back) first looks for that run in {@code /queue} and {@code /history} and adopts it
 * instead of starting the GPU work again.
 *
 * A run is followed over the executor's websocket (progress, end) with {@code /history} polling as the fallback;
 * its outputs are fetched with {@code /view} and stored as artifacts. Inputs written {@code {"artifact": "<id>"}} are
 * uploaded first. Cancel deletes a waiting run or interrupts this run only; shutdown leaves it running for the next
 * attempt to adopt.
 */
@ApplicationScoped
public class ComfyJobRunner implements JobRunner {

    private static final Logger LOG = Logger.getLogger(ComfyJobRunner.class);
    /** Progress is written at most this often. */
    private static final Duration PROGRESS_EVERY = Duration.ofSeconds(1);

    @Inject
    ComfyClient client;

    @Inject
    ComfyEvents events;

    @Inject
    BackendsConfig config;

    @Inject
    AttemptOutcomes outcomes;

    @Inject
    Artifacts artifacts;

    @Inject
    ObjectMapper json;

    @Inject
    ArtifactsConfig artifactLimits;

    @Inject
    Clock clock;

    @Override
    public String kind() {
        return "comfyui";
    }

    @Override
    public ObjectNode run(ClaimedJob job, CallControl control) throws Exception {
        String promptId = job.backendRef();
        Optional<JsonNode> finished = Optional.empty();
        boolean adopt = false;
        if (promptId != null) {
            // the queue first: ComfyUI saves a run's history before it leaves the queue, so a run missing from
            // both was never posted (or was lost in a ComfyUI restart), never one that finished in between
            adopt = client.queue().holds(promptId);
            if (!adopt) {
                Optional<JsonNode> earlier = client.history(promptId);
                finished = earlier.filter(ComfyJobRunner::succeeded);
                adopt = finished.isPresent();
                if (earlier.isPresent() && finished.isEmpty()) {
                    promptId = null; // that run ended badly: this attempt starts a new one
                }
            }
        }
        if (finished.isEmpty()) {
            Run run = new Run(job, control);
            if (adopt) {
                LOG.infof("job %s: adopting ComfyUI run %s", job.id(), promptId);
                run.promptId = promptId;
                events.listen(promptId, run);
            } else {
                run.promptId = promptId != null ? promptId : UUID.randomUUID().toString();
                if (promptId == null && !outcomes.recordBackendRef(job.id(), job.leaseToken(), run.promptId)) {
                    throw new CallFailure.Stopped("the lease is no longer this attempt's"); // someone else runs it
                }
                events.listen(run.promptId, run); // before the submit, so no event is missed
                run.submit();
            }
            promptId = run.promptId;
            try {
                run.await();
            } finally {
                events.forget(promptId);
            }
            finished = client.history(promptId);
        }
        return collect(job, control, promptId, finished.orElseThrow());
    }

    /**
     * One run being followed: woken by its socket events, by a stop, or by the polling interval. Time in ComfyUI's
     * queue is not run time (REALITY.md, ComfyUI 6): the job's timeout counts from the run's start (its
     * {@code execution_start}, or {@code /queue} showing it running), and the wait before has a limit of its own.
     */
    private final class Run implements ComfyEvents.RunListener {
        private final ClaimedJob job;
        private final CallControl control;
        private final Semaphore wake = new Semaphore(0);
        private volatile boolean ended;
        private volatile boolean startedByEvent;
        private JsonNode workflow;
        private volatile double progress = -1;
        private Instant progressWritten = Instant.EPOCH;
        private String promptId;

        Run(ClaimedJob job, CallControl control) {
            this.job = job;
            this.control = control;
            CompletableFuture<Void> stop = new CompletableFuture<>();
            stop.whenComplete((v, e) -> wake.release());
            control.attach(stop);
        }

        /** Posts the workflow (its artifact inputs uploaded first, once) under this run's prompt id. */
        void submit() throws Exception {
            if (workflow == null) {
                workflow = withUploadedInputs(json.readTree(job.specJson()).path("workflow"));
            }
            client.submit(promptId, events.clientId(), workflow);
        }

        @Override
        public void started() {
            startedByEvent = true;
            wake.release();
        }

        @Override
        public void progress(String node, double value, double max) {
            if (max > 0) {
                progress = value / max;
            }
        }

        @Override
        public void ended(String event, JsonNode data) {
            ended = true;
            wake.release();
        }

        /**
         * Waits for the run to be in the history; throws when the attempt is stopped, waited too long in ComfyUI's
         * queue, or ran past the job's timeout. A run that is in neither the queue nor the history on two looks in a
         * row was taken out of ComfyUI (its queue cleared, a restart): it is posted again at once.
         */
        void await() throws Exception {
            Duration timeout = job.timeout() == null || job.timeout().isZero() ? config.comfyui().timeout() : job.timeout();
            Duration queueLimit = config.comfyui().queueTimeout();
            Duration poll = config.comfyui().pollInterval();
            Instant queuedSince = clock.instant();
            Instant startedAt = null;
            int missing = 0;
            while (true) {
                // a run that finished before a stop was asked stands (DESIGN.md, cancellation)
                if (client.history(promptId).isPresent()) {
                    return;
                }
                CallControl.StopReason reason = control.stopped();
                if (reason != null) {
                    throw stop(promptId, reason);
                }
                Instant now = clock.instant();
                ComfyClient.Queue comfyQueue = client.queue();
                if (comfyQueue.holds(promptId)) {
                    missing = 0;
                } else if (++missing >= 2) {
                    LOG.warnf("job %s: ComfyUI run %s is in neither its queue nor its history; posting it again", job.id(),
                            promptId);
                    submit();
                    missing = 0;
                    queuedSince = now;
                    startedAt = null;
                    startedByEvent = false;
                    continue;
                }
                if (startedAt == null && (startedByEvent || comfyQueue.running().contains(promptId))) {
                    startedAt = now;
                }
                if (startedAt == null && !now.isBefore(queuedSince.plus(queueLimit))) {
                    client.deletePending(promptId);
                    throw new CallFailure.Unavailable("ComfyUI run " + promptId + " waited " + queueLimit.toSeconds()
                            + " s in ComfyUI's queue without starting (atelier.backends.comfyui.queue-timeout); it was"
                            + " taken out of the queue", true, null);
                }
                if (startedAt != null && !now.isBefore(startedAt.plus(timeout))) {
                    throw timedOut(job, promptId, timeout);
                }
                writeProgress();
                events.ensureOpen();
                Instant next = startedAt != null ? startedAt.plus(timeout) : queuedSince.plus(queueLimit);
                Duration left = Duration.between(now, next);
                // an ended run is in the history shortly after its last event: look again soon
                Duration wait = ended ? Duration.ofMillis(100) : (left.compareTo(poll) < 0 ? left : poll);
                wake.tryAcquire(Math.max(1, wait.toMillis()), TimeUnit.MILLISECONDS);
            }
        }

        private void writeProgress() {
            double p = progress;
            if (p >= 0 && clock.instant().isAfter(progressWritten.plus(PROGRESS_EVERY))) {
                progressWritten = clock.instant();
                outcomes.recordProgress(job.id(), job.leaseToken(), p);
            }
        }
    }

    /**
     * The run is in the history: its outputs become artifacts, or its error the attempt's. Outputs are downloaded to
     * temporary files and stored from there, within {@code atelier.artifacts.max-bytes} per file and
     * {@code max-job-bytes} per job.
     */
    private ObjectNode collect(ClaimedJob job, CallControl control, String promptId, JsonNode entry) {
        JsonNode status = entry.path("status");
        if (!succeeded(entry)) {
            for (JsonNode message : status.path("messages")) {
                if ("execution_error".equals(message.path(0).asText())) {
                    throw new CallFailure.Failed(ComfyErrors.execution(message.path(1)), null);
                }
            }
            boolean interrupted = false;
            for (JsonNode message : status.path("messages")) {
                interrupted |= "execution_interrupted".equals(message.path(0).asText());
            }
            throw new CallFailure.Failed(interrupted ? "ComfyUI run " + promptId + " was interrupted on ComfyUI"
                    : "ComfyUI run " + promptId + " ended with status " + status.path("status_str").asText("?"), null);
        }
        List<ComfyClient.Download> downloads = new ArrayList<>();
        try {
            List<NewArtifact> files = new ArrayList<>();
            long total = 0;
            for (Iterator<Map.Entry<String, JsonNode>> nodes = entry.path("outputs").fields(); nodes.hasNext(); ) {
                for (Iterator<Map.Entry<String, JsonNode>> kinds = nodes.next().getValue().fields(); kinds.hasNext(); ) {
                    for (JsonNode file : kinds.next().getValue()) {
                        // images, gifs, videos, ...: any list of files; "animated": [true] and "text" are not files,
                        // and previews ("temp", REALITY.md, ComfyUI 4) are not outputs
                        if (file.isObject() && file.hasNonNull("filename")
                                && "output".equals(file.path("type").asText("output"))) {
                            String name = file.path("filename").asText();
                            ComfyClient.Download download = client.view(name, file.path("subfolder").asText(""),
                                    file.path("type").asText("output"), artifactLimits.maxBytes(), control);
                            downloads.add(download);
                            total += download.size();
                            if (total > artifactLimits.maxJobBytes()) {
                                throw new CallFailure.Rejected("ComfyUI run " + promptId + " produced more than "
                                        + artifactLimits.maxJobBytes() + " bytes of outputs (atelier.artifacts.max-job-bytes)");
                            }
                            files.add(new NewArtifact(name, contentType(download.contentType(), name), download.size(),
                                    download.sha256(), () -> Files.newInputStream(download.file())));
                        }
                    }
                }
            }
            Optional<List<ArtifactInfo>> stored = artifacts.store(job.id(), job.leaseToken(), job.attempt(), files);
            if (stored.isEmpty()) {
                throw new CallFailure.Stopped("the lease is no longer this attempt's");
            }
            ObjectNode result = json.createObjectNode();
            result.put("prompt_id", promptId);
            ArrayNode list = result.putArray("artifacts");
            for (ArtifactInfo a : stored.get()) {
                list.addObject().put("id", a.id().toString()).put("name", a.name()).put("content_type", a.contentType())
                        .put("size", a.size()).put("sha256", a.sha256()).put("url", "/api/v1/artifacts/" + a.id());
            }
            return result;
        } finally {
            downloads.forEach(download -> ComfyClient.deleteQuietly(download.file()));
        }
    }

    /** Inputs written as {@code {"artifact": "<id>"}} become files uploaded to ComfyUI, named by their content. */
    private JsonNode withUploadedInputs(JsonNode workflow) {
        ObjectNode copy = workflow.deepCopy();
        for (JsonNode node : copy) {
            JsonNode inputs = node.path("inputs");
            if (!inputs.isObject()) {
                continue;
            }
            for (Iterator<Map.Entry<String, JsonNode>> it = inputs.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> input = it.next();
                JsonNode value = input.getValue();
                if (value.isObject() && value.size() == 1 && value.hasNonNull("artifact")) {
                    UUID id;
                    try {
                        id = UUID.fromString(value.path("artifact").asText());
                    } catch (IllegalArgumentException e) {
                        throw new CallFailure.Rejected("input " + input.getKey() + " names an artifact that is not an id: "
                                + value.path("artifact").asText());
                    }
                    Artifacts.ArtifactFile file = artifacts.find(id).orElseThrow(() ->
                            new CallFailure.Rejected("input " + input.getKey() + " names artifact " + id + ", which does not exist"));
                    String name = "atelier-" + file.info().sha256().substring(0, 16) + extension(file.info().name());
                    input.setValue(json.getNodeFactory().textNode(
                            client.upload(name, file.info().contentType(), file.data())));
                }
            }
        }
        return copy;
    }

    /** A stop asked through the control: a cancel stops the run at ComfyUI; anything else leaves it for the next attempt. */
    private CallFailure.Stopped stop(String promptId, CallControl.StopReason reason) {
        if (reason == CallControl.StopReason.CANCEL) {
            return new CallFailure.Stopped("ComfyUI run " + promptId + " " + stopAtComfy(promptId).what());
        }
        return new CallFailure.Stopped("ComfyUI run " + promptId + " left running for the next attempt");
    }

    /**
     * The run outlasted the job's timeout from its start. Where the run cannot be interrupted alone (ComfyUI before
     * 0.3.57) it is left to finish, and its result is discarded: the job forgets it, so the next attempt starts anew.
     */
    private CallFailure timedOut(ClaimedJob job, String promptId, Duration timeout) {
        StopAtComfy stop = stopAtComfy(promptId);
        if (stop.leftToFinish()) {
            outcomes.recordBackendRef(job.id(), job.leaseToken(), null);
        }
        return new CallFailure.Failed("ComfyUI run " + promptId + " timed out after " + timeout.toSeconds()
                + " s of running; it was " + stop.what(), null);
    }

    /** What {@link #stopAtComfy} did, for the message, and whether this ComfyUI could not have interrupted the run alone. */
    private record StopAtComfy(String what, boolean leftToFinish) {
    }

    /**
     * Takes the run out of the queue if it waits, and interrupts it if it runs, touching this prompt only. A ComfyUI
     * before 0.3.57 would interrupt whatever runs, anybody's: there the run is left to finish. The version is read
     * once, so the decision and its account agree even if the health check finds another version meanwhile.
     */
    private StopAtComfy stopAtComfy(String promptId) {
        ComfyVersion version = client.version();
        try {
            client.deletePending(promptId);
            if (!client.interrupt(promptId, version)) {
                return new StopAtComfy("left to finish (ComfyUI " + version.text()
                        + " cannot interrupt one run only), its result discarded", true);
            }
            return new StopAtComfy("interrupted", false);
        } catch (CallFailure e) {
            LOG.warnf("could not stop ComfyUI run %s: %s", promptId, e.getMessage());
            return new StopAtComfy("not stopped (" + e.getMessage() + ")", !version.interruptsOneRun());
        }
    }

    private static boolean succeeded(JsonNode entry) {
        return "success".equals(entry.path("status").path("status_str").asText());
    }

    private static String extension(String name) {
        int dot = name.lastIndexOf('.');
        return dot < 0 ? "" : name.substring(dot).replaceAll("[^A-Za-z0-9.]", "");
    }

    /** The type ComfyUI sent, or one from the file name when it sent none. */
    static String contentType(String sent, String name) {
        if (sent != null && !sent.isBlank()) {
            return sent.split(";")[0].trim();
        }
        String lower = name.toLowerCase(java.util.Locale.ROOT);
        if (lower.endsWith(".png")) {
            return "image/png";
        } else if (lower.endsWith(".jpg") || lower.endsWith(".jpeg")) {
            return "image/jpeg";
        } else if (lower.endsWith(".webp")) {
            return "image/webp";
        } else if (lower.endsWith(".gif")) {
            return "image/gif";
        } else if (lower.endsWith(".mp4")) {
            return "video/mp4";
        } else if (lower.endsWith(".webm")) {
            return "video/webm";
        }
        return "application/octet-stream";
    }
}
