package dev.atelier.store;

import dev.atelier.store.ExecutorRegistry.Backend;
import dev.atelier.store.ExecutorRegistry.LiveExecutor;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.TreeSet;

/**
 * Why a pending or retry job is not running (API.md, {@code waiting_reason}), judged from the facts the claim
 * itself uses: backoff, its batch's gate, then the live executors that could take it.
 */
final class WaitingReasons {

    /** What the claim knows about a job's batch: its mode, its head job (lowest open priority, then position) and its running job. */
    record BatchGate(BatchMode mode, String headKey, Integer headPriority, long headGroupOpen, String runningKey) {
    }

    private WaitingReasons() {
    }

    /** The reason, or null for a job that is not waiting. */
    static String explain(JobViews.JobRow job, BatchGate gate, List<LiveExecutor> live, Duration maxAffinityWait,
                          Instant now) {
        if (job.state() != JobState.PENDING && job.state() != JobState.RETRY) {
            return null;
        }
        if (job.runAfter() != null && job.runAfter().isAfter(now)) {
            return job.state() == JobState.RETRY
                    ? "backing off until " + job.runAfter() + " after attempt " + job.attempt() + " failed"
                    : "waits until " + job.runAfter();
        }
        String upstreams = upstreams(job, now);
        if (upstreams != null) {
            return upstreams;
        }
        if (gate != null) {
            String gated = gated(job, gate);
            if (gated != null) {
                return gated;
            }
        }
        String kind = job.kind();
        List<LiveExecutor> serving = live.stream().filter(e -> e.slots(kind) > 0 && e.backend(kind).isPresent()).toList();
        if (live.isEmpty()) {
            return "no live executor: none has sent a heartbeat recently";
        }
        if (serving.isEmpty()) {
            return "no live executor runs " + kind + " jobs";
        }
        List<LiveExecutor> reachable = serving.stream()
                .filter(e -> !"offline".equals(e.backend(kind).map(Backend::status).orElse("offline"))).toList();
        if (reachable.isEmpty()) {
            Backend any = serving.get(0).backend(kind).orElseThrow();
            return "the " + kind + " backend is offline on every live executor"
                    + (any.detail() == null || any.detail().isBlank() ? "" : " (" + any.detail() + ")");
        }
        List<LiveExecutor> able = reachable.stream().filter(e -> !job.avoidExecutors().contains(e.id())).toList();
        if (able.isEmpty()) {
            return "every live executor keeps it off: " + job.waitingReason();
        }
        if (!job.checkpoints().isEmpty()) {
            able = able.stream().filter(e -> e.backend(kind).orElseThrow().models().containsAll(job.checkpoints())).toList();
            if (able.isEmpty()) {
                return "no live executor has checkpoint" + (job.checkpoints().size() > 1 ? "s " : " ")
                        + String.join(", ", job.checkpoints().stream().map(c -> "'" + c + "'").toList());
            }
        }
        if (job.model() != null && "ollama".equals(kind)) {
            able = reachable.stream().filter(e -> ModelNames.offers(e.backend(kind).orElseThrow().models(), job.model()))
                    .toList();
            if (able.isEmpty()) {
                TreeSet<String> offered = new TreeSet<>();
                reachable.forEach(e -> offered.addAll(e.backend(kind).orElseThrow().models()));
                return "no live executor offers model '" + job.model() + "' (available: "
                        + (offered.isEmpty() ? "none" : String.join(", ", offered)) + ")";
            }
        }
        int slots = able.stream().mapToInt(e -> e.slots(kind)).sum();
        int busy = able.stream().mapToInt(e -> Math.min(e.busy(kind), e.slots(kind))).sum();
        String affinity = affinityWait(job, able, maxAffinityWait, now);
        if (busy >= slots) {
            return affinity != null ? affinity : "waiting for a free " + kind + " slot: all " + slots + " are busy";
        }
        String ready = "ready: a free " + kind + " slot will claim it at its next poll";
        return job.waitingReason() == null ? ready : ready + " (earlier: " + job.waitingReason() + ")";
    }

    /**
     * Model affinity (DESIGN.md, ordering): while every executor that could run it holds another model, an Ollama
     * job waits for one that has its model loaded, or for one to run out of work for its own, at most the bound.
     */
    private static String affinityWait(JobViews.JobRow job, List<LiveExecutor> able, Duration maxAffinityWait,
                                       Instant now) {
        if (job.model() == null || !"ollama".equals(job.kind()) || maxAffinityWait.isZero()) {
            return null;
        }
        boolean holdsOthers = able.stream().allMatch(e -> {
            List<ExecutorRegistry.LoadedModel> loaded = e.backend("ollama").orElseThrow().loaded();
            return !loaded.isEmpty() && loaded.stream().noneMatch(m -> ModelNames.same(m.name(), job.model()));
        });
        Instant since = job.runAfter() != null && job.runAfter().isAfter(job.createdAt()) ? job.runAfter() : job.createdAt();
        Duration waited = since == null ? Duration.ZERO : Duration.between(since, now);
        if (!holdsOthers || waited.compareTo(maxAffinityWait) >= 0) {
            return null;
        }
        return "waiting for an executor with " + job.model() + " loaded, or for one to run out of work for its own"
                + " (waited " + minutes(waited) + " of " + minutes(maxAffinityWait) + ")";
    }

    private static String minutes(Duration d) {
        long seconds = Math.max(0, d.toSeconds());
        return seconds / 60 + ":" + String.format("%02d", seconds % 60);
    }

    /** Pipelines: "waiting for look (running), bio (retry in 0:12)", for the upstreams that have not succeeded. */
    private static String upstreams(JobViews.JobRow job, Instant now) {
        List<String> open = job.upstreams().stream().filter(u -> u.state() != JobState.SUCCESS)
                .map(u -> u.key() + " (" + (u.state() == JobState.RETRY && u.runAfter() != null
                        ? "retry in " + minutes(Duration.between(now, u.runAfter())) : u.state().wire()) + ")")
                .toList();
        return open.isEmpty() ? null : "waiting for " + String.join(", ", open);
    }

    private static String gated(JobViews.JobRow job, BatchGate gate) {
        return switch (gate.mode()) {
            case PRIORITY -> gate.headPriority() != null && gate.headPriority() < job.priority()
                    ? "priority group " + gate.headPriority() + " of this batch is not finished ("
                            + gate.headGroupOpen() + (gate.headGroupOpen() == 1 ? " job" : " jobs") + " left)"
                    : null;
            case SEQUENTIAL -> gate.runningKey() != null
                    ? "this batch runs one job at a time: '" + gate.runningKey() + "' is running"
                    : gate.headKey() != null && !gate.headKey().equals(job.key())
                            ? "this batch runs one job at a time: '" + gate.headKey() + "' goes first"
                            : null;
            case PARALLEL -> null;
        };
    }
}
