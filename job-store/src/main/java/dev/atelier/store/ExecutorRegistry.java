package dev.atelier.store;

import java.sql.PreparedStatement;
import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import javax.sql.DataSource;

/**
 * What each executor reports about itself: when it was last seen, its slots and busy counts, and its backends'
 * status and models. The ledger reads it; the model sweep uses it to know which models live executors offer.
 */
public class ExecutorRegistry {

    private final DataSource dataSource;

    public ExecutorRegistry(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    /** One backend as its executor last saw it. */
    public record BackendReport(String kind, String url, String status, Collection<String> models,
                                Instant checkedAt, String detail) {
    }

    private static final String UPSERT_EXECUTOR = """
            insert into executor (id, started_at, last_seen_at, slots, busy)
            values (?, coalesce(?::timestamptz, now()), coalesce(?::timestamptz, now()), ?::jsonb, ?::jsonb)
            on conflict (id) do update
            set last_seen_at = excluded.last_seen_at, slots = excluded.slots, busy = excluded.busy
            """;

    private static final String UPSERT_BACKEND = """
            insert into executor_backend (executor_id, kind, url, status, models, checked_at, detail)
            values (?, ?, ?, ?, ?, ?, ?)
            on conflict (executor_id, kind) do update
            set url = excluded.url, status = excluded.status, models = excluded.models,
                checked_at = excluded.checked_at, detail = excluded.detail
            """;

    /** Records that the executor is alive, with its slots, busy counts and backends, in one transaction. */
    public void report(String executorId, Map<String, Integer> slots, Map<String, Integer> busy,
                       List<BackendReport> backends, Instant now) {
        Transactions.inTransaction(dataSource, "executor report", c -> {
            try (PreparedStatement ps = c.prepareStatement(UPSERT_EXECUTOR)) {
                ps.setString(1, executorId);
                Transactions.setTime(ps, 2, now);
                Transactions.setTime(ps, 3, now);
                ps.setString(4, json(slots));
                ps.setString(5, json(busy));
                ps.executeUpdate();
            }
            try (PreparedStatement ps = c.prepareStatement(UPSERT_BACKEND)) {
                for (BackendReport backend : backends) {
                    ps.setString(1, executorId);
                    ps.setString(2, backend.kind());
                    ps.setString(3, backend.url());
                    ps.setString(4, backend.status());
                    ps.setArray(5, c.createArrayOf("text", backend.models().toArray(String[]::new)));
                    Transactions.setTime(ps, 6, backend.checkedAt());
                    ps.setString(7, backend.detail());
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

    // kinds and counts only: no quoting needed beyond the kind names, which are fixed words
    private static String json(Map<String, Integer> counts) {
        return counts.entrySet().stream()
                .map(e -> "\"" + e.getKey() + "\": " + e.getValue())
                .collect(Collectors.joining(", ", "{", "}"));
    }
}
