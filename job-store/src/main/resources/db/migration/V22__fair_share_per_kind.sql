-- Issue 23: fair share per batch and backend kind (DESIGN.md, ordering). With one stamp per batch, an executor's
-- Ollama claims made the batch's ComfyUI jobs look just served, and ComfyUI claimers took other batches first.
-- batch_turn now holds one row per open batch and kind of job it has; a claim walks the rows of its kind and stamps
-- only those. The gates stay per batch: batch_gates(kind) reads the head job over all kinds.
alter table batch_turn drop constraint batch_turn_pkey, add column kind text;

insert into batch_turn (batch_id, kind, priority, mode, created_at, last_claimed_at)
select t.batch_id, k.kind, t.priority, t.mode, t.created_at, t.last_claimed_at
from batch_turn t
     cross join lateral (select distinct j.kind from job j where j.batch_id = t.batch_id) k
where t.kind is null;
delete from batch_turn where kind is null;

alter table batch_turn
    alter column kind set not null,
    add constraint batch_turn_kind_valid check (kind in ('ollama', 'comfyui')),
    add constraint batch_turn_pkey primary key (batch_id, kind);
drop index batch_turn_order;
create index batch_turn_order on batch_turn (kind, priority, last_claimed_at nulls first, created_at, batch_id);

-- A batch takes a turn per kind when its jobs arrive (the batch row comes first and knows no kinds).
drop trigger batch_turn_insert on batch;
drop function batch_turn_on_insert();
create function batch_turn_on_job_insert() returns trigger
    language plpgsql as
$$
begin
    insert into batch_turn (batch_id, kind, priority, mode, created_at)
    select b.id, n.kind, b.priority, b.mode, b.created_at
    from (select distinct batch_id, kind from new_rows) n join batch b on b.id = n.batch_id
    where b.finished_at is null
    order by b.id, n.kind
    on conflict (batch_id, kind) do nothing;
    return null;
end
$$;
create trigger batch_turn_insert after insert on job
    referencing new table as new_rows for each statement execute function batch_turn_on_job_insert();

-- The open batches with jobs of one kind, in that kind's claim order, each with the window its mode lets run now.
drop function claimable_jobs(text);
drop function batch_gates();
create function batch_gates(backend text)
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
where t.kind = backend
  and (t.mode <> 'sequential'
       or not exists (select 1 from job r where r.batch_id = t.batch_id and r.state = 'running'))
order by t.priority, t.last_claimed_at nulls first, t.created_at, t.batch_id
$$;

create function claimable_jobs(backend text) returns bigint
    language sql stable as
$$
select count(*)
from batch_gates(backend) g
     join job j on j.batch_id = g.id
where j.priority between g.first_priority and g.last_priority
  and j.position between g.first_position and g.last_position
  and j.state in ('pending', 'retry')
  and j.upstreams_left = 0
  and j.run_after <= now()
  and j.kind = backend
$$;
