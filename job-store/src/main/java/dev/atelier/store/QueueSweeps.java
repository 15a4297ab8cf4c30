package dev.atelier.store;

import static dev.atelier.store.Rows.*;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import javax.sql.DataSource;

/**
 * The maintenance sweeps any executor may run: reaping expired leases, and failing jobs that no live executor can
 * serve (their model or checkpoints offered nowhere, or refused or avoided everywhere) after a grace.
 */
@ApplicationScoped
public class QueueSweeps {

    private final DataSource dataSource;

    @Inject
    public QueueSweeps(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    // As AttemptOutcomes.FAIL, for the jobs whose lease expired (a retryable failure), skipping rows an outcome is
    // being stored for.
    private static final String REAP = """
            with clock as materialized (select coalesce(?::timestamptz, now()) as now),
            held as materialized (
                select j.id, j.lease_token, 'lease expired on ' || j.executor_id as error,
                       case when j.cancel_requested_at is not null then 'cancelled'
                            when j.attempts_used + 1 < j.max_attempts then 'retry'
                            else 'failed' end as next_state
                from job j, clock
                where j.state = 'running' and j.lease_expires_at < clock.now
                order by j.lease_expires_at
                limit ?
                for update of j skip locked),
            moved as (
                update job j
                set state = h.next_state,
                    attempts_used = j.attempts_used + case when h.next_state = 'cancelled' then 0 else 1 end,
                    run_after = case when h.next_state = 'retry'
                                     then clock.now + make_interval(secs => b.retry_delay_ms / 1000.0
                                          * power(b.retry_backoff, j.attempts_used) * (0.9 + random() * 0.2))
                                     else j.run_after end,
                    finished_at = case when h.next_state = 'retry' then null else clock.now end,
                    error = h.error, lease_token = null, lease_expires_at = null, progress = null,
                    hand_backs_in_row = 0
                from held h, clock, batch b
                where j.id = h.id and b.id = j.batch_id
                returning j.id, j.state, h.lease_token, h.error
            )
            update attempt a
            set status = case when m.state = 'cancelled' then 'cancelled' else 'failed' end,
                finished_at = clock.now, error = m.error
            from moved m, clock
            where a.lease_token = m.lease_token and a.job_id = m.id and a.status = 'running'
            returning a.job_id, m.state
            """;

    /**
     * Takes back jobs whose lease expired (the executor died or hung): the attempt is spent, with the error
     * "lease expired on &lt;executor&gt;", and the job goes to retry or, out of attempts, to failed.
     *
     * @param limit at most this many jobs per call; call again while it returns a full page
     */
    public Map<UUID, JobState> reapExpired(int limit, Instant now) {
        return Transactions.inTransaction(dataSource, "reap", c -> {
            try (PreparedStatement ps = c.prepareStatement(REAP)) {
                setNow(ps, 1, now);
                ps.setInt(2, limit);
                return readStates(ps);
            }
        });
    }

    // ---------------------------------------------------------------- models nobody offers

    /*
     * DESIGN.md, models: an Ollama job whose model no live executor offers waits with a reason, and fails after the
     * grace period, counted from the latest of: the job being stored, it becoming claimable, and the oldest live
     * executor's start (so executors that just came up have published their models). Nothing fails while no
     * live executor can reach its Ollama (an outage makes jobs wait, DESIGN.md invariant 4). Rows are only written
     * when the reason or the state changes.
     */
    private static final String UNSERVABLE_MODELS = """
            with clock as materialized (select coalesce(?::timestamptz, now()) as now),
            live as materialized (
                select e.id, e.started_at from executor e, clock
                where e.last_seen_at >= clock.now - make_interval(secs => ?)),
            offered as materialized (
                select distinct m.model, m.model_key from live l
                     join executor_backend b on b.executor_id = l.id and b.kind = 'ollama'
                     cross join unnest(b.models, b.model_keys) as m(model, model_key)),
            facts as materialized (
                -- only executors that can reach their Ollama judge: an Ollama outage makes jobs wait, not fail
                select (select min(l.started_at) from live l
                        join executor_backend b on b.executor_id = l.id and b.kind = 'ollama' and b.status <> 'offline')
                           as first_live,
                       coalesce((select string_agg(distinct model, ', ' order by model) from offered), 'none') as available),
            unservable as materialized (
                select j.id,
                       greatest(j.created_at, j.run_after, f.first_live) <= clock.now - make_interval(secs => ?) as expired,
                       'no live executor offers model ''' || j.model || '''' as reason
                from job j, facts f, clock
                where j.state in ('pending', 'retry') and j.kind = 'ollama' and f.first_live is not null
                  and j.model_key not in (select model_key from offered)
                order by j.id
                for update of j skip locked)
            update job j
            set state = case when u.expired then 'failed' else j.state end,
                finished_at = case when u.expired then clock.now end,
                error = case when u.expired
                             then 'model ''' || j.model || ''' not found on any executor (available: ' || f.available || ')'
                             else j.error end,
                waiting_reason = case when u.expired then null else u.reason end
            from unservable u, facts f, clock
            where j.id = u.id and (u.expired or j.waiting_reason is distinct from u.reason)
            returning j.id, j.state
            """;

    /*
     * A model every live executor that has it refuses to load (REALITY.md, Ollama 6: "model requires more system
     * memory (X) than is available (Y)" repeats on every try on the same box): its waiting jobs fail at once with
     * the backend's own words. No grace: each executor refused after trying, and only a bigger box would do.
     */
    private static final String REFUSED_EVERYWHERE = """
            with clock as materialized (select coalesce(?::timestamptz, now()) as now),
            reachable as materialized (
                select b.executor_id, b.model_keys, b.refused_keys, b.refused_reasons
                from executor e join executor_backend b on b.executor_id = e.id and b.kind = 'ollama', clock
                where e.last_seen_at >= clock.now - make_interval(secs => ?) and b.status <> 'offline'),
            refusal as materialized (
                select r.model_key, min(r.reason) as reason
                from reachable cross join unnest(reachable.refused_keys, reachable.refused_reasons) as r(model_key, reason)
                group by 1),
            willing as materialized (
                select distinct m.model_key
                from reachable cross join unnest(reachable.model_keys) as m(model_key)
                where m.model_key <> all (reachable.refused_keys)),
            refused as materialized (
                select j.id, f.reason from job j join refusal f on f.model_key = j.model_key
                where j.state in ('pending', 'retry') and j.kind = 'ollama'
                  and f.model_key not in (select model_key from willing)
                order by j.id
                for update of j skip locked)
            update job j
            set state = 'failed', finished_at = clock.now, waiting_reason = null,
                error = 'model ''' || j.model || ''' cannot be loaded on any live executor: ' || r.reason
            from refused r, clock
            where j.id = r.id
            returning j.id, j.state
            """;

    /*
     * The same rule for ComfyUI workflows and their checkpoint files: a workflow no live executor has every checkpoint
     * of waits, saying which it lacks, and fails after the grace. An executor's ComfyUI models are its checkpoints.
     */
    private static final String UNSERVABLE_CHECKPOINTS = """
            with clock as materialized (select coalesce(?::timestamptz, now()) as now),
            comfy as materialized (
                select e.started_at, b.models from executor e
                     join executor_backend b on b.executor_id = e.id and b.kind = 'comfyui' and b.status <> 'offline',
                     clock
                where e.last_seen_at >= clock.now - make_interval(secs => ?)),
            facts as materialized (
                select (select min(started_at) from comfy) as first_live,
                       coalesce((select string_agg(distinct m, ', ' order by m) from comfy cross join unnest(comfy.models) m),
                                'none') as available),
            unservable as materialized (
                select j.id,
                       greatest(j.created_at, j.run_after, f.first_live) <= clock.now - make_interval(secs => ?) as expired,
                       coalesce((select 'checkpoint ' || string_agg('''' || c || '''', ', ' order by c) from unnest(j.checkpoints) c
                                 where not exists (select 1 from comfy x where c = any (x.models))),
                                'all of the checkpoints ' || (select string_agg('''' || c || '''', ', ' order by c)
                                                              from unnest(j.checkpoints) c)) as lacking
                from job j, facts f, clock
                where j.state in ('pending', 'retry') and j.kind = 'comfyui' and j.checkpoints <> '{}'
                  and f.first_live is not null
                  and not exists (select 1 from comfy x where j.checkpoints <@ x.models)
                order by j.id
                for update of j skip locked)
            update job j
            set state = case when u.expired then 'failed' else j.state end,
                finished_at = case when u.expired then clock.now end,
                error = case when u.expired
                             then 'no executor has ' || u.lacking || ' (available: ' || f.available || ')'
                             else j.error end,
                waiting_reason = case when u.expired then null else 'no live executor has ' || u.lacking end
            from unservable u, facts f, clock
            where j.id = u.id and (u.expired or j.waiting_reason is distinct from 'no live executor has ' || u.lacking)
            returning j.id, j.state
            """;

    /*
     * A job every live executor of its kind (its backend reachable) keeps off, for lacking what it needs, fails at
     * once with the reason the last one handed it back for. No grace: each of them tried.
     */
    private static final String AVOIDED_EVERYWHERE = """
            with clock as materialized (select coalesce(?::timestamptz, now()) as now),
            able as materialized (
                select b.kind, e.id from executor e join executor_backend b on b.executor_id = e.id, clock
                where e.last_seen_at >= clock.now - make_interval(secs => ?) and b.status <> 'offline'
                  and coalesce((e.slots ->> b.kind)::int, 0) > 0),
            avoided as materialized (
                select j.id from job j
                where j.state in ('pending', 'retry') and j.avoid_executors <> '{}'
                  and exists (select 1 from able a where a.kind = j.kind)
                  and not exists (select 1 from able a where a.kind = j.kind and not (j.avoid_executors @> array[a.id]))
                order by j.id
                for update of j skip locked)
            update job j
            set state = 'failed', finished_at = clock.now, waiting_reason = null,
                error = 'no live executor can run it: ' || coalesce(j.waiting_reason, 'each one refused it')
            from avoided a, clock
            where j.id = a.id
            returning j.id, j.state
            """;

    /**
     * Marks Ollama jobs whose model no live executor offers as waiting for it, and fails those that waited longer
     * than {@code grace}; fails at once those whose model every live executor that has it refused to load. Safe to
     * run from every executor at once.
     *
     * @param liveWindow an executor is live when it reported within this window
     * @return the jobs that failed or got a new waiting reason, with their state
     */
    public Map<UUID, JobState> sweepUnservableModels(Duration grace, Duration liveWindow, Instant now) {
        return Transactions.inTransaction(dataSource, "sweep unservable models", c -> {
            Map<UUID, JobState> changed = new HashMap<>();
            // waiting, then failing after the grace: no live executor has what the job needs
            for (String sweep : List.of(UNSERVABLE_MODELS, UNSERVABLE_CHECKPOINTS)) {
                changed.putAll(sweep(c, sweep, now, liveWindow, grace));
            }
            // failing at once: every live executor that could tried, and refused
            for (String sweep : List.of(REFUSED_EVERYWHERE, AVOIDED_EVERYWHERE)) {
                changed.putAll(sweep(c, sweep, now, liveWindow, null));
            }
            return changed;
        });
    }

    /** Runs one sweep: its parameters are the time, the live window and, for those that have one, the grace. */
    private static Map<UUID, JobState> sweep(Connection c, String statement, Instant now, Duration liveWindow,
                                             Duration grace) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(statement)) {
            setNow(ps, 1, now);
            ps.setDouble(2, liveWindow.toMillis() / 1000.0);
            if (grace != null) {
                ps.setDouble(3, grace.toMillis() / 1000.0);
            }
            return readStates(ps);
        }
    }
}
