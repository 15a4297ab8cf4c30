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

    // The dependents of these jobs that wait for nothing more, locked, with what each of their upstreams left (the
    // answer, and the first artifact of the attempt that succeeded) when they hold templates: one round trip, since
    // it runs inside the completing transaction, which the next step's start waits for. A row per upstream; the
    // template comes on one of them only, since a job may wait for many.
    private static final String NOW_READY = """
            with ready as (
                select d.id, d.spec_template
                from job d
                where d.id in (select u.job_id from job_upstream u where u.upstream_id = any (?::uuid[]))
                  and d.state = 'pending' and d.upstreams_left = 0
                order by d.id
                for update of d
            )
            select r.id, case when row_number() over (partition by r.id) = 1 then r.spec_template::text end
                       as spec_template, u.key, u.result::text as result,
                   (select a.id from artifact a where a.job_id = u.id and a.attempt = u.attempt
                    order by a.created_at, a.id limit 1) as first_artifact
            from ready r
                 left join job_upstream x on x.job_id = r.id and r.spec_template is not null
                 left join job u on u.id = x.upstream_id
            """;

    // Jobs retried by hand that wait for nothing and hold templates, with their upstreams' outputs: expanded again
    // from the stored template.
    private static final String RETRIED_WITH_TEMPLATES = """
            with ready as (
                select d.id, d.spec_template
                from job d
                where d.id = any (?::uuid[]) and d.state = 'pending' and d.upstreams_left = 0
                  and d.spec_template is not null
                order by d.id
                for update of d
            )
            select r.id, case when row_number() over (partition by r.id) = 1 then r.spec_template::text end
                       as spec_template, u.key, u.result::text as result,
                   (select a.id from artifact a where a.job_id = u.id and a.attempt = u.attempt
                    order by a.created_at, a.id limit 1) as first_artifact
            from ready r
                 left join job_upstream x on x.job_id = r.id
                 left join job u on u.id = x.upstream_id
            """;

    // Stores the expansions and wakes the claimers (at commit) in one round trip: these jobs are claimable now. The
    // update runs even though the select does not read it (PostgreSQL runs every data-modifying WITH to completion).
    // The payload names the executor that looks for them itself right after (QueueSignals.WORK_CHANNEL).
    private static final String STORE_EXPANDED_AND_WAKE = """
            with stored as (
                update job j set spec = x.spec::jsonb
                from unnest(?::uuid[], ?::text[]) as x(id, spec)
                where j.id = x.id
                returning j.id
            )
            select pg_notify(?, ?)
            """;

    // No attempt is spent: the job never ran. Its dependents are cancelled by the trigger.
    private static final String FAIL_EXPANSION = """
            update job j set state = 'failed', finished_at = coalesce(?::timestamptz, now()), error = x.error,
                             waiting_reason = null
            from unnest(?::uuid[], ?::text[]) as x(id, error)
            where j.id = x.id and j.state = 'pending'
            """;

    /**
     * After these jobs succeeded: expands the templates of the dependents now ready, and wakes the claimers.
     *
     * @param completer the executor that stored the successes and claims right after commit ("" when not one)
     */
    static void afterSuccess(Connection c, Collection<UUID> succeeded, String completer, Instant now)
            throws SQLException {
        if (!succeeded.isEmpty()) {
            expandAndWake(c, NOW_READY, succeeded, completer, now);
        }
    }

    /** After a retry by hand: a job whose upstreams all succeeded is expanded again (its last expansion failed). */
    static void afterRetry(Connection c, Collection<UUID> retried, Instant now) throws SQLException {
        if (!retried.isEmpty()) {
            expandAndWake(c, RETRIED_WITH_TEMPLATES, retried, "", now);
        }
    }

    /** A job that waits for nothing more: its template (null: nothing to expand) and what its upstreams left. */
    private static final class Ready {
        String template;
        final Map<String, PipelineTemplates.Output> outputs = new HashMap<>();
    }

    /**
     * Expands the templates of the jobs the statement finds ready (those with none are left as they are) and wakes
     * the claimers; one that cannot be expanded ends failed.
     */
    private static void expandAndWake(Connection c, String readyStatement, Collection<UUID> ids,
                                      String claimingExecutor, Instant now) throws SQLException {
        Map<UUID, Ready> ready = new HashMap<>();
        try (PreparedStatement ps = c.prepareStatement(readyStatement)) {
            ps.setArray(1, c.createArrayOf("uuid", ids.toArray(UUID[]::new)));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    Ready job = ready.computeIfAbsent(rs.getObject("id", UUID.class), id -> new Ready());
                    String template = rs.getString("spec_template");
                    if (template != null) {
                        job.template = template;
                    }
                    String key = rs.getString("key");
                    if (key != null) {
                        job.outputs.put(key, new PipelineTemplates.Output(key, rs.getString("result"),
                                rs.getObject("first_artifact", UUID.class)));
                    }
                }
            }
        }
        if (ready.isEmpty()) {
            return;
        }
        List<UUID> expandedIds = new ArrayList<>(), failedIds = new ArrayList<>();
        List<String> expanded = new ArrayList<>(), errors = new ArrayList<>();
        for (Map.Entry<UUID, Ready> job : ready.entrySet()) {
            if (job.getValue().template == null) {
                continue;
            }
            try {
                expanded.add(PipelineTemplates.expand(job.getValue().template, job.getValue().outputs));
                expandedIds.add(job.getKey());
            } catch (PipelineTemplates.Failure e) {
                errors.add(StorableText.clean(e.getMessage()));
                failedIds.add(job.getKey());
            }
        }
        try (PreparedStatement ps = c.prepareStatement(STORE_EXPANDED_AND_WAKE)) {
            ps.setArray(1, c.createArrayOf("uuid", expandedIds.toArray(UUID[]::new)));
            ps.setArray(2, c.createArrayOf("text", expanded.toArray(String[]::new)));
            ps.setString(3, QueueSignals.WORK_CHANNEL);
            ps.setString(4, claimingExecutor);
            ps.execute();
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
