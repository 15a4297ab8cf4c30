-- Issue 19: reads on hot paths cost the same with a million finished jobs as with none. Finished history is skipped
-- by construction: the claim walks only open batches, and stops once enough have offered work; totals are kept for
-- the summary, the metrics and the gateway's backpressure; a batch's end is stored, for the batch list's filter.

-- batch_turn: one row per batch with open jobs, in claim order (DESIGN.md, ordering: batch priority, then the batch
-- served longest ago). Narrow on purpose: every claim re-stamps the batches it served, and that update writes this
-- table's two index entries instead of a new version of the batch row with an entry in each of its indexes.
create table batch_turn (
    batch_id        uuid        primary key references batch (id) on delete cascade,
    priority        integer     not null,
    mode            text        not null,
    created_at      timestamptz not null,
    last_claimed_at timestamptz
);
create index batch_turn_order on batch_turn (priority, last_claimed_at nulls first, created_at, batch_id);

-- When the job count compaction (JobCounts.compact) saw a batch's last open job end, and how it ended. A retry by
-- hand opens it again. Cancelling a finished batch makes it cancelled, as the batch state rules say (API.md).
alter table batch
    add column finished_at timestamptz,
    add column finished_state text
        constraint batch_finished_state_valid check (finished_state in ('success', 'failed', 'cancelled')),
    add constraint batch_finished_complete check ((finished_at is null) = (finished_state is null));

update batch b
set finished_at = f.finished_at,
    finished_state = case when b.cancelled_at is not null then 'cancelled' else f.state end
from (select j.batch_id, max(j.finished_at) as finished_at,
             case when bool_or(j.state = 'failed') then 'failed'
                  when bool_or(j.state = 'cancelled') then 'cancelled'
                  else 'success' end as state
      from job j
      group by j.batch_id
      having bool_and(j.state in ('success', 'failed', 'cancelled'))) f
where b.id = f.batch_id;

insert into batch_turn (batch_id, priority, mode, created_at, last_claimed_at)
select id, priority, mode, created_at, last_claimed_at from batch where finished_at is null;
-- batch.last_claimed_at is read by nothing from here on. It stays for one version: executors of the previous one
-- still stamp it while a rolling upgrade replaces them, and their claims would fail without it.
comment on column batch.last_claimed_at is 'unused since V12 (batch_turn.last_claimed_at); dropped by a later version';

-- open batches newest first (the batch list's open states), oldest first (the oldest waiting job)
create index batch_open on batch (created_at, id) where finished_at is null;
-- finished batches by how they ended, newest first (the batch list's terminal states)
create index batch_finished on batch (finished_state, created_at, id) where finished_at is not null;

-- A batch's state from its job counts (API.md, conventions): cancelled once cancelled; when no job is open, failed if
-- any failed, else cancelled if any was, else success; running once any job has left pending; else pending. The
-- compaction stores it when a batch finishes; the batch list reads it for batches still open.
create function batch_state(batch uuid, cancelled_at timestamptz) returns text
    language sql stable as
$$
select case when cancelled_at is not null then 'cancelled'
            when n.open = 0 then case when n.failed > 0 then 'failed' when n.cancelled > 0 then 'cancelled'
                                      else 'success' end
            when n.started > 0 then 'running'
            else 'pending' end
from (select coalesce(sum(k.jobs) filter (where k.state in ('pending', 'running', 'retry')), 0) as open,
             coalesce(sum(k.jobs) filter (where k.state = 'failed'), 0) as failed,
             coalesce(sum(k.jobs) filter (where k.state = 'cancelled'), 0) as cancelled,
             coalesce(sum(k.jobs) filter (where k.state <> 'pending'), 0) as started
      from job_counts k where k.batch_id = batch) n
$$;

-- A new batch takes its turn, however it was inserted.
create function batch_turn_on_insert() returns trigger
    language plpgsql as
$$
begin
    insert into batch_turn (batch_id, priority, mode, created_at)
    select id, priority, mode, created_at from new_rows where finished_at is null;
    return null;
end
$$;
create trigger batch_turn_insert after insert on batch
    referencing new table as new_rows for each statement execute function batch_turn_on_insert();

-- batch_gates() (V4) walked the fetch index for every batch with open jobs, and the claim sorted them all. Now it
-- reads open batches in claim order and is one SELECT, which the planner inlines: a claim with a LIMIT stops probing
-- once enough batches have offered work, whatever the number of open batches.
drop function claimable_jobs(text);
drop function batch_gates();
create function batch_gates()
    returns table (id uuid, priority integer, last_claimed_at timestamptz, created_at timestamptz,
                   first_priority integer, last_priority integer, first_position integer, last_position integer)
    language sql stable as
$$
select t.batch_id, t.priority, t.last_claimed_at, t.created_at,
       head.priority as first_priority,
       case when t.mode = 'parallel' then 1000 else head.priority end as last_priority,
       case when t.mode = 'sequential' then head.position else 0 end as first_position,
       case when t.mode = 'sequential' then head.position else 2147483647 end as last_position
from batch_turn t
     cross join lateral (
         select h.priority, h.position from job h
         where h.batch_id = t.batch_id and h.state in ('pending', 'running', 'retry')
         order by h.priority, h.position limit 1) head
where t.mode <> 'sequential'
   or not exists (select 1 from job r where r.batch_id = t.batch_id and r.state = 'running')
order by t.priority, t.last_claimed_at nulls first, t.created_at, t.batch_id
$$;

create function claimable_jobs(backend text) returns bigint
    language sql stable as
$$
select count(*)
from batch_gates() g
     join job j on j.batch_id = g.id
where j.priority between g.first_priority and g.last_priority
  and j.position between g.first_position and g.last_position
  and j.state in ('pending', 'retry')
  and j.run_after <= now()
  and j.kind = backend
$$;

-- Totals per priority, kind and state across all batches, kept from job_count (whoever changes it: the compaction,
-- or a batch deleted with its counts). Readers add the deltas not yet compacted, so a total is as exact as
-- job_counts, at a cost that does not grow with the number of batches.
create table job_total (
    priority integer not null,
    kind     text    not null,
    state    text    not null,
    jobs     bigint  not null,
    primary key (priority, kind, state)
);
insert into job_total (priority, kind, state, jobs)
select priority, kind, state, sum(jobs) from job_count group by priority, kind, state;

create function job_total_apply(moves_priority integer[], moves_kind text[], moves_state text[], moves_jobs bigint[])
    returns void
    language sql as
$$
insert into job_total as t (priority, kind, state, jobs)
select m.priority, m.kind, m.state, sum(m.jobs)
from unnest(moves_priority, moves_kind, moves_state, moves_jobs) as m(priority, kind, state, jobs)
group by m.priority, m.kind, m.state
having sum(m.jobs) <> 0
order by m.priority, m.kind, m.state
on conflict (priority, kind, state) do update set jobs = t.jobs + excluded.jobs
$$;

create function job_total_on_count_insert() returns trigger
    language plpgsql as
$$
begin
    perform job_total_apply(array_agg(priority), array_agg(kind), array_agg(state), array_agg(jobs)) from new_rows;
    return null;
end
$$;

create function job_total_on_count_update() returns trigger
    language plpgsql as
$$
begin
    perform job_total_apply(array_agg(priority), array_agg(kind), array_agg(state), array_agg(jobs))
    from (select priority, kind, state, jobs from new_rows
          union all
          select priority, kind, state, -jobs from old_rows) moves;
    return null;
end
$$;

create function job_total_on_count_delete() returns trigger
    language plpgsql as
$$
begin
    perform job_total_apply(array_agg(priority), array_agg(kind), array_agg(state), array_agg(-jobs)) from old_rows;
    return null;
end
$$;

create trigger job_total_insert after insert on job_count
    referencing new table as new_rows for each statement execute function job_total_on_count_insert();
create trigger job_total_update after update on job_count
    referencing old table as old_rows new table as new_rows for each statement execute function job_total_on_count_update();
create trigger job_total_delete after delete on job_count
    referencing old table as old_rows for each statement execute function job_total_on_count_delete();
