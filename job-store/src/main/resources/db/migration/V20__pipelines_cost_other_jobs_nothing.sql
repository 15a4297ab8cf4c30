-- Issue 21, what pipelines cost jobs that are not in one (the queue-core figure, bench/run --only=intake,queue).
--
-- A job's and an export line's after_keys are null when it waits for nothing, rather than an empty array: 16 bytes
-- less in every row written by each claim and completion. Rows stored before keep '{}'; both read as none.
alter table job
    alter column after_keys drop not null,
    alter column after_keys drop default;
alter table ledger_line
    alter column after_keys drop not null,
    alter column after_keys drop default;

create or replace function ledger_line_json(l ledger_line, seq bigint) returns text language sql stable parallel safe as $$
    select '{"seq":' || seq || ',"job_id":"' || l.job_id || '","batch_id":"' || l.batch_id
        || '","crew":' || to_json(l.crew) || ',"task":' || to_json(l.task) || ',"status":"' || l.status
        || '","details":' || to_json(l.details)
        || ',"timestamp":"' || to_char(l.occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
        || '","metadata":{"attempts":' || l.attempts || ',"key":' || to_json(l.key) || ',"priority":' || l.priority
        || ',"model":' || coalesce(to_json(l.model)::text, 'null') || ',"type":' || to_json(l.type)
        || case when coalesce(cardinality(l.after_keys), 0) = 0 then '' else ',"after":' || to_json(l.after_keys) end
        || '}}'
$$;

-- The pipeline trigger (V19) ran its three statements for every update touching a job with dependents,
-- claims and lease renewals included, where none of them can change anything: about 0.6 ms per claim and per
-- completion of an upstream (bench/run --only=pipelines --profile). It now looks at what changed first and runs only
-- the part that applies: a success, a failure or cancellation, or a retry by hand of one of those.
create or replace function job_pipeline_on_update() returns trigger language plpgsql as $$
declare
    succeeded  boolean;
    ended_ill  boolean;
    reopened   boolean;
    frontier   uuid[];
begin
    if pg_trigger_depth() > 1 or not exists (select 1 from new_rows where has_dependents) then
        return null;
    end if;
    select coalesce(bool_or(nw.state = 'success' and o.state <> 'success'), false),
           coalesce(bool_or(nw.state in ('failed', 'cancelled') and o.state not in ('failed', 'cancelled')), false),
           coalesce(bool_or(o.state in ('failed', 'cancelled') and nw.state in ('pending', 'retry')), false)
    into succeeded, ended_ill, reopened
    from new_rows nw join old_rows o on o.id = nw.id
    where nw.has_dependents and nw.state <> o.state;

    if succeeded then
        update job d set upstreams_left = d.upstreams_left - s.n
        from (select u.job_id, count(*) as n
              from new_rows nw join old_rows o on o.id = nw.id join job_upstream u on u.upstream_id = nw.id
              where nw.has_dependents and nw.state = 'success' and o.state <> 'success'
              group by u.job_id) s
        where d.id = s.job_id and d.state in ('pending', 'retry');
    end if;

    if ended_ill then
        with recursive doomed(id, by_id, root_key, root_state, root_finished_at) as (
            select u.job_id, nw.id, nw.key, nw.state, nw.finished_at
            from new_rows nw join old_rows o on o.id = nw.id join job_upstream u on u.upstream_id = nw.id
            where nw.has_dependents and nw.state in ('failed', 'cancelled') and o.state not in ('failed', 'cancelled')
            union
            select u.job_id, dm.id, dm.root_key, dm.root_state, dm.root_finished_at
            from doomed dm join job_upstream u on u.upstream_id = dm.id
        )
        update job d
        set state = 'cancelled', finished_at = x.root_finished_at, cancelled_by = x.by_id, waiting_reason = null,
            error = 'upstream job ' || x.root_key || ' ' || x.root_state
        from (select distinct on (dm.id) dm.* from doomed dm order by dm.id, dm.root_key) x
        where d.id = x.id and d.state in ('pending', 'retry');
    end if;

    if reopened then
        select array_agg(nw.id) into frontier
        from new_rows nw join old_rows o on o.id = nw.id
        where nw.has_dependents and o.state in ('failed', 'cancelled') and nw.state in ('pending', 'retry');
        while frontier is not null loop
            -- still blocked by another upstream that failed: it waits for that one's retry
            update job d
            set cancelled_by = b.id, error = 'upstream job ' || b.key || ' ' || b.state
            from (select distinct on (d2.id) d2.id as job_id, u.id, u.key, u.state
                  from job d2 join job_upstream x on x.job_id = d2.id join job u on u.id = x.upstream_id
                  where d2.cancelled_by = any (frontier) and d2.state = 'cancelled'
                    and u.state in ('failed', 'cancelled')
                  order by d2.id, u.key) b
            where d.id = b.job_id;
            with reopened_jobs as (
                update job d
                set state = 'pending', finished_at = null, error = null, cancelled_by = null,
                    upstreams_left = (select count(*) from job_upstream x join job u on u.id = x.upstream_id
                                      where x.job_id = d.id and u.state <> 'success')
                where d.cancelled_by = any (frontier) and d.state = 'cancelled'
                returning d.id, d.has_dependents)
            select array_agg(id) filter (where has_dependents) into frontier from reopened_jobs;
        end loop;
    end if;
    return null;
end
$$;
