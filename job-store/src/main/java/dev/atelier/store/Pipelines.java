package dev.atelier.store;

import static dev.atelier.store.Rows.*;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * What a job's end does for the jobs that wait for it, beyond the trigger (V19__pipelines.sql): a dependent whose last
 * upstream succeeded gets its templates expanded, in the same transaction, and the executors are woken for it.
 */
final class Pipelines {

    private Pipelines() {
    }

    // The dependents of these jobs that wait for nothing more, locked: their templates are expanded before commit.
    private static final String NOW_READY = """
            select d.id, d.spec_template::text as spec_template
            from job d
            where d.id in (select u.job_id from job_upstream u where u.upstream_id = any (?::uuid[]))
              and d.state = 'pending' and d.upstreams_left = 0
            order by d.id
            for update of d
            """;

    // Jobs retried by hand that wait for nothing and hold templates: expanded again from the stored template.
    private static final String RETRIED_WITH_TEMPLATES = """
            select d.id, d.spec_template::text as spec_template
            from job d
            where d.id = any (?::uuid[]) and d.state = 'pending' and d.upstreams_left = 0
              and d.spec_template is not null
            order by d.id
            for update of d
            """;

    // What each waiting job's upstreams left: the answer, and the first artifact of the attempt that succeeded.
    private static final String UPSTREAM_OUTPUTS = """
            select x.job_id, u.key, u.result::text as result,
                   (select a.id from artifact a where a.job_id = u.id and a.attempt = u.attempt
                    order by a.created_at, a.id limit 1) as first_artifact
            from job_upstream x join job u on u.id = x.upstream_id
            where x.job_id = any (?::uuid[])
            """;

    private static final String STORE_EXPANDED = """
            update job j set spec = x.spec::jsonb
            from unnest(?::uuid[], ?::text[]) as x(id, spec)
            where j.id = x.id
            """;

    // No attempt is spent: the job never ran. Its dependents are cancelled by the trigger.
    private static final String FAIL_EXPANSION = """
            update job j set state = 'failed', finished_at = coalesce(?::timestamptz, now()), error = x.error,
                             waiting_reason = null
            from unnest(?::uuid[], ?::text[]) as x(id, error)
            where j.id = x.id and j.state = 'pending'
            """;

    /** After these jobs succeeded: expands the templates of the dependents now ready, and wakes the claimers. */
    static void afterSuccess(Connection c, Collection<UUID> succeeded, Instant now) throws SQLException {
        if (succeeded.isEmpty()) {
            return;
        }
        Map<UUID, String> ready = select(c, NOW_READY, succeeded);
        if (ready.isEmpty()) {
            return;
        }
        expand(c, ready, now);
        notifyWork(c);
    }

    /** After a retry by hand: a job whose upstreams all succeeded is expanded again (its last expansion failed). */
    static void afterRetry(Connection c, Collection<UUID> retried, Instant now) throws SQLException {
        if (!retried.isEmpty()) {
            expand(c, select(c, RETRIED_WITH_TEMPLATES, retried), now);
        }
    }

    private static Map<UUID, String> select(Connection c, String statement, Collection<UUID> ids) throws SQLException {
        Map<UUID, String> found = new HashMap<>();
        try (PreparedStatement ps = c.prepareStatement(statement)) {
            ps.setArray(1, c.createArrayOf("uuid", ids.toArray(UUID[]::new)));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    found.put(rs.getObject("id", UUID.class), rs.getString("spec_template"));
                }
            }
        }
        return found;
    }

    /** Expands the templates of these jobs (those with none are left as they are); one that cannot be ends failed. */
    private static void expand(Connection c, Map<UUID, String> templates, Instant now) throws SQLException {
        templates.values().removeIf(t -> t == null);
        if (templates.isEmpty()) {
            return;
        }
        Map<UUID, Map<String, PipelineTemplates.Output>> outputs = new HashMap<>();
        try (PreparedStatement ps = c.prepareStatement(UPSTREAM_OUTPUTS)) {
            ps.setArray(1, c.createArrayOf("uuid", templates.keySet().toArray(UUID[]::new)));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    String key = rs.getString("key");
                    outputs.computeIfAbsent(rs.getObject("job_id", UUID.class), id -> new HashMap<>())
                            .put(key, new PipelineTemplates.Output(key, rs.getString("result"),
                                    rs.getObject("first_artifact", UUID.class)));
                }
            }
        }
        List<UUID> expandedIds = new ArrayList<>(), failedIds = new ArrayList<>();
        List<String> expanded = new ArrayList<>(), errors = new ArrayList<>();
        for (Map.Entry<UUID, String> job : templates.entrySet()) {
            try {
                expanded.add(PipelineTemplates.expand(job.getValue(), outputs.getOrDefault(job.getKey(), Map.of())));
                expandedIds.add(job.getKey());
            } catch (PipelineTemplates.Failure e) {
                errors.add(StorableText.clean(e.getMessage()));
                failedIds.add(job.getKey());
            }
        }
        if (!expandedIds.isEmpty()) {
            try (PreparedStatement ps = c.prepareStatement(STORE_EXPANDED)) {
                ps.setArray(1, c.createArrayOf("uuid", expandedIds.toArray(UUID[]::new)));
                ps.setArray(2, c.createArrayOf("text", expanded.toArray(String[]::new)));
                ps.executeUpdate();
            }
        }
        if (!failedIds.isEmpty()) {
            try (PreparedStatement ps = c.prepareStatement(FAIL_EXPANSION)) {
                setNow(ps, 1, now);
                ps.setArray(2, c.createArrayOf("uuid", failedIds.toArray(UUID[]::new)));
                ps.setArray(3, c.createArrayOf("text", errors.toArray(String[]::new)));
                ps.executeUpdate();
            }
        }
    }
}
