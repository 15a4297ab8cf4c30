package dev.atelier.executor.backend;

import dev.atelier.store.ExecutorRegistry;
import dev.atelier.store.ModelNames;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.Set;
import java.util.TreeSet;

/**
 * What this executor knows about one backend: its status (online, degraded, offline), its models, and until when
 * claiming for it is paused. Written by the health check and by calls that failed; read by the claim loop.
 */
public final class BackendState {

    public enum Status {
        ONLINE, DEGRADED, OFFLINE;

        public String wire() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /**
     * One consistent view, for the claim loop and the executor report.
     *
     * @param loaded the models loaded in memory at the last check (Ollama's {@code /api/ps})
     */
    public record Snapshot(Status status, Set<String> models, Instant checkedAt, String detail, Instant pausedUntil,
                           List<ExecutorRegistry.LoadedModel> loaded) {
        public boolean claimable(Instant now) {
            return status != Status.OFFLINE && (pausedUntil == null || !now.isBefore(pausedUntil));
        }
    }

    /** A model this backend has but cannot load until {@code until}, in its own words. */
    private record Refusal(String model, Instant until, String reason) {
    }

    private final String kind;
    private final String url;
    private final Map<String, Refusal> refusals = new ConcurrentHashMap<>();
    private volatile Snapshot snapshot = new Snapshot(Status.OFFLINE, Set.of(), null, "not checked yet", null, List.of());

    public BackendState(String kind, String url) {
        this.kind = kind;
        this.url = url;
    }

    public String kind() {
        return kind;
    }

    public String url() {
        return url;
    }

    public Snapshot snapshot() {
        return snapshot;
    }

    /** A health check's finding; a check that finds the backend online lifts a pause. */
    public synchronized void checked(Status status, List<String> models, Instant at, String detail) {
        checked(status, models, null, at, detail);
    }

    /** A health check's finding, with what is loaded now; null lists keep what was known. */
    public synchronized void checked(Status status, List<String> models, List<ExecutorRegistry.LoadedModel> loaded,
                                     Instant at, String detail) {
        Set<String> known = models == null ? snapshot.models() : Set.copyOf(new TreeSet<>(models));
        Instant paused = status == Status.ONLINE && snapshot.status() != Status.ONLINE ? null : snapshot.pausedUntil();
        snapshot = new Snapshot(status, known, at, detail, paused, loaded == null ? snapshot.loaded() : List.copyOf(loaded));
    }

    /** A call found the backend unreachable: offline until a health check finds it again. */
    public synchronized void unreachable(Instant at, String detail) {
        snapshot = new Snapshot(Status.OFFLINE, snapshot.models(), at, detail, null, snapshot.loaded());
    }

    /** A call found the backend busy, or its breaker open: claim nothing for it until {@code until}. */
    public synchronized void pause(Instant at, Instant until, String detail) {
        Status status = snapshot.status() == Status.OFFLINE ? Status.OFFLINE : Status.DEGRADED;
        snapshot = new Snapshot(status, snapshot.models(), at, detail, until, snapshot.loaded());
    }

    /** The backend cannot load {@code model} now: claim none of its jobs until {@code until}. */
    public void refuse(String model, Instant until, String reason) {
        refusals.put(ModelNames.key(model), new Refusal(model, until, reason));
    }

    /** The models to claim jobs for now: those it has, but those it refuses. */
    public Set<String> claimableModels(Instant now) {
        refusals.values().removeIf(r -> !now.isBefore(r.until()));
        Set<String> models = new TreeSet<>(snapshot.models());
        models.removeIf(name -> refusals.containsKey(ModelNames.key(name)));
        return models;
    }

    /** The models it refuses now, with why, for the executor report. */
    public List<ExecutorRegistry.RefusedModel> refused(Instant now) {
        refusals.values().removeIf(r -> !now.isBefore(r.until()));
        return refusals.values().stream().map(r -> new ExecutorRegistry.RefusedModel(r.model(), r.reason()))
                .sorted(java.util.Comparator.comparing(ExecutorRegistry.RefusedModel::name)).toList();
    }

    /** A call learned the backend lacks {@code model}; forget it, under every spelling, until the next refresh. */
    public synchronized void forget(String model) {
        Set<String> models = new TreeSet<>(snapshot.models());
        models.removeIf(name -> ModelNames.same(name, model));
        snapshot = new Snapshot(snapshot.status(), Set.copyOf(models), snapshot.checkedAt(), snapshot.detail(),
                snapshot.pausedUntil(), snapshot.loaded());
    }
}
