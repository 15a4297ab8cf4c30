-- Issue 21: pipelines (DESIGN.md, ordering: `after`). A job may wait for other jobs of its batch and use their
-- outputs. The claim reads one column (upstreams_left) instead of probing the edges; this file keeps that column, the
-- cascade of a failed upstream and the re-opening on a retry by hand, in one trigger, so no path that ends a job can
-- forget its dependents (as the export lines' triggers do).

alter table job
    -- the keys it waits for, as submitted (views and export lines show them)
    add column after_keys     text[]  not null default '{}',
    -- how many of those have not succeeded yet: the claim takes only jobs at zero
    add column upstreams_left integer not null default 0
        constraint job_upstreams_left_range check (upstreams_left >= 0),
    -- whether another job waits for this one: the trigger below does nothing for other jobs' changes
    add column has_dependents boolean not null default false,
    -- the spec as submitted when it holds templates ({{jobs.KEY.text}}); spec is its expansion once claimable
    add column spec_template  jsonb,
    -- the upstream whose failure or cancellation cancelled this job: a retry of that one by hand re-opens it
    add column cancelled_by   uuid;

create table job_upstream (
    job_id      uuid not null references job (id) on delete cascade,
    upstream_id uuid not null references job (id) on delete cascade,
    primary key (job_id, upstream_id),
    constraint job_upstream_not_self check (job_id <> upstream_id)
);
-- an upstream's dependents, when it ends
create index job_upstream_dependents on job_upstream (upstream_id);

-- What an upstream's end does to the jobs that wait for it:
--  - success: each dependent has one fewer to wait for (the job-store expands its templates, in the same
--    transaction, once none is left: AttemptOutcomes);
--  - failed or cancelled: every open job downstream ends cancelled, no attempt spent, naming the upstream that
--    failed; each remembers its direct upstream (cancelled_by);
--  - failed or cancelled -> pending (a retry by hand): the jobs it cancelled open again, level by level, except one
--    that another failed or cancelled upstream still blocks, which now waits for a retry of that one instead.
-- The updates here fire this trigger again; those nested calls return at once, since each level is done here (a
-- recursion per level would run out of stack on a long chain).
create function job_pipeline_on_update() returns trigger language plpgsql as $$
declare
    frontier uuid[];
begin
    if pg_trigger_depth() > 1 or not exists (select 1 from new_rows where has_dependents) then
        return null;
    end if;

    update job d set upstreams_left = d.upstreams_left - s.n
    from (select u.job_id, count(*) as n
          from new_rows nw join old_rows o on o.id = nw.id join job_upstream u on u.upstream_id = nw.id
          where nw.has_dependents and nw.state = 'success' and o.state <> 'success'
          group by u.job_id) s
    where d.id = s.job_id and d.state in ('pending', 'retry');

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
        with reopened as (
            update job d
            set state = 'pending', finished_at = null, error = null, cancelled_by = null,
                upstreams_left = (select count(*) from job_upstream x join job u on u.id = x.upstream_id
                                  where x.job_id = d.id and u.state <> 'success')
            where d.cancelled_by = any (frontier) and d.state = 'cancelled'
            returning d.id, d.has_dependents)
        select array_agg(id) filter (where has_dependents) into frontier from reopened;
    end loop;
    return null;
end
$$;
create trigger job_pipeline after update on job
    referencing old table as old_rows new table as new_rows for each statement
execute function job_pipeline_on_update();

-- The autoscaler's count leaves out jobs that wait for an upstream: KEDA starts no GPU pod for work that cannot run.
create or replace function claimable_jobs(backend text) returns bigint
    language sql stable as
$$
select count(*)
from batch_gates() g
     join job j on j.batch_id = g.id
where j.priority between g.first_priority and g.last_priority
  and j.position between g.first_position and g.last_position
  and j.state in ('pending', 'retry')
  and j.upstreams_left = 0
  and j.run_after <= now()
  and j.kind = backend
$$;

-- Export lines carry the keys a job waited for.
alter table ledger_line add column after_keys text[] not null default '{}';

create or replace function ledger_on_terminal() returns trigger language plpgsql as $$
begin
    if not exists (select 1 from new_rows where state in ('success', 'failed', 'cancelled')) then
        return null;
    end if;
    insert into ledger_line (job_id, batch_id, status, details, attempts, occurred_at,
                             crew, task, key, priority, model, type, after_keys)
    select nw.id, nw.batch_id, nw.state,
           left(coalesce(nw.result ->> 'text', result_summary(nw.result), nw.error, ''), 200), nw.attempt,
           nw.finished_at,
           coalesce(nw.crew, nw.type), coalesce(nw.task, nw.key), nw.key, nw.priority, nw.model, nw.type,
           nw.after_keys
    from new_rows nw join old_rows o on o.id = nw.id
    where nw.state in ('success', 'failed', 'cancelled') and nw.state <> o.state;
    return null;
end
$$;

-- metadata.after only on lines of jobs that waited for others: other lines keep their bytes
create or replace function ledger_line_json(l ledger_line, seq bigint) returns text language sql stable parallel safe as $$
    select '{"seq":' || seq || ',"job_id":"' || l.job_id || '","batch_id":"' || l.batch_id
        || '","crew":' || to_json(l.crew) || ',"task":' || to_json(l.task) || ',"status":"' || l.status
        || '","details":' || to_json(l.details)
        || ',"timestamp":"' || to_char(l.occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
        || '","metadata":{"attempts":' || l.attempts || ',"key":' || to_json(l.key) || ',"priority":' || l.priority
        || ',"model":' || coalesce(to_json(l.model)::text, 'null') || ',"type":' || to_json(l.type)
        || case when l.after_keys = '{}' then '' else ',"after":' || to_json(l.after_keys) end || '}}'
$$;

-- A crew may be a list of steps (each a job template), which a crew job expands into a chain.
alter table crew
    drop constraint crew_template_object,
    add constraint crew_template_object_or_steps check (jsonb_typeof(template) in ('object', 'array'));
