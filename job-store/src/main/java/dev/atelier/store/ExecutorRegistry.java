package dev.atelier.store;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.stream.Collectors;
import javax.sql.DataSource;

/**
 * What each executor reports about itself: when it was last seen, its slots and busy counts, and its backends'
 * status and models. The ledger reads it; the model sweep uses it to know which models live executors offer.
 */
@ApplicationScoped
public class ExecutorRegistry {

    private final DataSource dataSource;

    @Inject
    public ExecutorRegistry(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    /** A model loaded in a backend's memory now (Ollama's {@code /api/ps}); {@code expiresAt} null if unknown. */
    public record LoadedModel(String name, long sizeVram, Instant expiresAt) {
    }

    /** A model the backend has but cannot load now, and the backend's own words for why. */
    public record RefusedModel(String name, String reason) {
    }

    /** One backend as its executor last saw it. */
    public record BackendReport(String kind, String url, String status, Collection<String> models,
                                Instant checkedAt, String detail, List<LoadedModel> loaded, List<RefusedModel> refused) {
        /** A backend with nothing loaded or refused (ComfyUI, which does not say). */
        public BackendReport(String kind, String url, String status, Collection<String> models, Instant checkedAt,
                             String detail) {
            this(kind, url, status, models, checkedAt, detail, List.of(), List.of());
        }
    }

    private static final String UPSERT_EXECUTOR = """
            insert into executor (id, started_at, last_seen_at, slots, busy, draining_since)
            values (?, coalesce(?::timestamptz, now()), coalesce(?::timestamptz, now()), ?::jsonb, ?::jsonb, ?)
            on conflict (id) do update
            set last_seen_at = excluded.last_seen_at, slots = excluded.slots, busy = excluded.busy,
                draining_since = excluded.draining_since
            """;

    private static final String UPSERT_BACKEND = """
            insert into executor_backend (executor_id, kind, url, status, models, checked_at, detail, loaded_names,
                                          loaded_vram, loaded_until, refused_models, refused_reasons, model_keys,
                                          loaded_keys, refused_keys)
            values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            on conflict (executor_id, kind) do update
            set url = excluded.url, status = excluded.status, models = excluded.models,
                checked_at = excluded.checked_at, detail = excluded.detail, loaded_names = excluded.loaded_names,
                loaded_vram = excluded.loaded_vram, loaded_until = excluded.loaded_until,
                refused_models = excluded.refused_models, refused_reasons = excluded.refused_reasons,
                model_keys = excluded.model_keys, loaded_keys = excluded.loaded_keys, refused_keys = excluded.refused_keys
            """;

    private static Array keys(Connection c, Collection<String> names) throws SQLException {
        return c.createArrayOf("text", names.stream().map(n -> ModelNames.key(StorableText.clean(n))).toArray(String[]::new));
    }

    /** Records that the executor is alive, with its slots, busy counts and backends, in one transaction. */
    public void report(String executorId, Map<String, Integer> slots, Map<String, Integer> busy,
                       List<BackendReport> backends, Instant now) {
        report(executorId, slots, busy, backends, null, now);
    }

    /** The same, for an executor draining since {@code drainingSince} (null: it claims). */
    public void report(String executorId, Map<String, Integer> slots, Map<String, Integer> busy,
                       List<BackendReport> backends, Instant drainingSince, Instant now) {
        Transactions.inTransaction(dataSource, "executor report", c -> {
            try (PreparedStatement ps = c.prepareStatement(UPSERT_EXECUTOR)) {
                ps.setString(1, executorId);
                Transactions.setTime(ps, 2, now);
                Transactions.setTime(ps, 3, now);
                ps.setString(4, json(slots));
                ps.setString(5, json(busy));
                Transactions.setTime(ps, 6, drainingSince);
                ps.executeUpdate();
            }
            try (PreparedStatement ps = c.prepareStatement(UPSERT_BACKEND)) {
                for (BackendReport backend : backends) {
                    ps.setString(1, executorId);
                    ps.setString(2, backend.kind());
                    ps.setString(3, backend.url());
                    ps.setString(4, backend.status());
                    // model names and details come from the backend: stored cleaned, so a stray NUL fails no report
                    ps.setArray(5, c.createArrayOf("text", backend.models().stream().map(StorableText::clean)
                            .toArray(String[]::new)));
                    Transactions.setTime(ps, 6, backend.checkedAt());
                    ps.setString(7, StorableText.clean(backend.detail()));
                    List<LoadedModel> loaded = backend.loaded();
                    ps.setArray(8, c.createArrayOf("text", loaded.stream().map(m -> StorableText.clean(m.name()))
                            .toArray(String[]::new)));
                    ps.setArray(9, c.createArrayOf("int8", loaded.stream().map(LoadedModel::sizeVram).toArray(Long[]::new)));
                    ps.setArray(10, c.createArrayOf("timestamptz", loaded.stream()
                            .map(m -> m.expiresAt() == null ? null : m.expiresAt().atOffset(java.time.ZoneOffset.UTC))
                            .toArray(OffsetDateTime[]::new)));
                    ps.setArray(11, c.createArrayOf("text", backend.refused().stream()
                            .map(m -> StorableText.clean(m.name())).toArray(String[]::new)));
                    ps.setArray(12, c.createArrayOf("text", backend.refused().stream()
                            .map(m -> StorableText.clean(m.reason())).toArray(String[]::new)));
                    // Ollama models' keys, by the rule jobs are keyed by at intake (V13): SQL compares keys only
                    boolean ollama = backend.kind().equals("ollama");
                    ps.setArray(13, keys(c, ollama ? backend.models() : List.of()));
                    ps.setArray(14, keys(c, ollama ? loaded.stream().map(LoadedModel::name).toList() : List.of()));
                    ps.setArray(15, keys(c, ollama ? backend.refused().stream().map(RefusedModel::name).toList()
                            : List.of()));
                    ps.addBatch();
                }
                ps.executeBatch();
            }
            return null;
        });
    }

    /** Removes an executor that stopped cleanly, so it no longer counts as live. */
    public void remove(String executorId) {
        Transactions.inTransaction(dataSource, "executor remove", c -> {
            try (PreparedStatement ps = c.prepareStatement("delete from executor where id = ?")) {
                ps.setString(1, executorId);
                return ps.executeUpdate();
            }
        });
    }

    // An executor that vanished (killed, its node lost) never removes itself; its backends go with it (cascade).
    private static final String FORGET_VANISHED = """
            delete from executor where last_seen_at < coalesce(?::timestamptz, now()) - make_interval(secs => ?)
            """;

    /**
     * Removes the executors that have not reported for {@code after} (a day by default), with their backends: each
     * start under a new name would otherwise leave a row that the model sweep and the live query read forever.
     *
     * @return how many were removed
     */
    public int forgetVanished(Duration after, Instant now) {
        return Transactions.inTransaction(dataSource, "forget vanished executors", c -> {
            try (PreparedStatement ps = c.prepareStatement(FORGET_VANISHED)) {
                Transactions.setTime(ps, 1, now);
                ps.setDouble(2, after.toMillis() / 1000.0);
                return ps.executeUpdate();
            }
        });
    }

    /** A live executor as the ledger shows it, with its backends. */
    public record LiveExecutor(String id, Instant startedAt, Instant lastSeen, Map<String, Integer> slots,
                               Map<String, Integer> busy, List<Backend> backends, Instant drainingSince) {

        public int slots(String kind) {
            return slots.getOrDefault(kind, 0);
        }

        public int busy(String kind) {
            return busy.getOrDefault(kind, 0);
        }

        public Optional<Backend> backend(String kind) {
            return backends.stream().filter(b -> b.kind().equals(kind)).findFirst();
        }
    }

    /** A backend as its executor last reported it. */
    public record Backend(String kind, String url, String status, List<String> models, Instant checkedAt,
                          String detail, List<LoadedModel> loaded) {
    }

    private static final String LIVE = """
            with clock as materialized (select coalesce(?::timestamptz, now()) as now)
            select e.id, e.started_at, e.last_seen_at, e.draining_since,
                   array(select k from jsonb_object_keys(e.slots) k order by k) as slot_kinds,
                   array(select (e.slots ->> k)::int from jsonb_object_keys(e.slots) k order by k) as slot_counts,
                   array(select k from jsonb_object_keys(e.busy) k order by k) as busy_kinds,
                   array(select (e.busy ->> k)::int from jsonb_object_keys(e.busy) k order by k) as busy_counts,
                   b.kind, b.url, b.status, b.models, b.checked_at, b.detail, b.loaded_names, b.loaded_vram,
                   b.loaded_until
            from executor e cross join clock
                 left join executor_backend b on b.executor_id = e.id
            where e.last_seen_at >= clock.now - make_interval(secs => ?)
            order by e.id, b.kind
            """;

    /**
     * The executors that reported within {@code liveWindow} (API.md: two lease lengths), in id order.
     *
     * @param now the time to judge by, or null for the database clock
     */
    public List<LiveExecutor> live(Duration liveWindow, Instant now) {
        return Transactions.inTransaction(dataSource, "read live executors", c -> {
            try (PreparedStatement ps = c.prepareStatement(LIVE)) {
                Transactions.setTime(ps, 1, now);
                ps.setDouble(2, liveWindow.toMillis() / 1000.0);
                Map<String, LiveExecutor> executors = new LinkedHashMap<>();
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        String id = rs.getString("id");
                        LiveExecutor executor = executors.get(id);
                        if (executor == null) {
                            executor = new LiveExecutor(id, instant(rs, "started_at"), instant(rs, "last_seen_at"),
                                    counts(rs, "slot_kinds", "slot_counts"), counts(rs, "busy_kinds", "busy_counts"),
                                    new ArrayList<>(), instant(rs, "draining_since"));
                            executors.put(id, executor);
                        }
                        if (rs.getString("kind") != null) {
                            executor.backends().add(new Backend(rs.getString("kind"), rs.getString("url"),
                                    rs.getString("status"), List.of((String[]) rs.getArray("models").getArray()),
                                    instant(rs, "checked_at"), rs.getString("detail"), loaded(rs)));
                        }
                    }
                }
                return List.copyOf(executors.values());
            }
        });
    }

    private static List<LoadedModel> loaded(ResultSet rs) throws SQLException {
        String[] names = (String[]) rs.getArray("loaded_names").getArray();
        Long[] vram = (Long[]) rs.getArray("loaded_vram").getArray();
        List<LoadedModel> loaded = new ArrayList<>();
        try (ResultSet until = rs.getArray("loaded_until").getResultSet()) {
            for (int i = 0; i < names.length && until.next(); i++) {
                OffsetDateTime t = until.getObject(2, OffsetDateTime.class);
                loaded.add(new LoadedModel(names[i], vram[i], t == null ? null : t.toInstant()));
            }
        }
        return loaded;
    }

    private static Map<String, Integer> counts(ResultSet rs, String kinds, String counts) throws SQLException {
        String[] keys = (String[]) rs.getArray(kinds).getArray();
        Integer[] values = (Integer[]) rs.getArray(counts).getArray();
        Map<String, Integer> map = new TreeMap<>();
        for (int i = 0; i < keys.length; i++) {
            map.put(keys[i], values[i]);
        }
        return map;
    }

    private static Instant instant(ResultSet rs, String column) throws SQLException {
        OffsetDateTime t = rs.getObject(column, OffsetDateTime.class);
        return t == null ? null : t.toInstant();
    }

    // kinds and counts only: no quoting needed beyond the kind names, which are fixed words
    private static String json(Map<String, Integer> counts) {
        return counts.entrySet().stream()
                .map(e -> "\"" + e.getKey() + "\": " + e.getValue())
                .collect(Collectors.joining(", ", "{", "}"));
    }
}
