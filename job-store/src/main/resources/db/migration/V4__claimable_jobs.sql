-- The claim's gate in one place, for the claim (JobQueue.CLAIM) and for the autoscaler (KEDA's postgresql trigger).
--
-- batch_gates(): the batches that have open jobs (a skip scan over the fetch index's leading column), each with the
-- window of (priority, position) its mode lets run now: the head's priority group (priority mode), the head job
-- (sequential), or everything from the head on (parallel). A sequential batch that already runs a job has no window.
create function batch_gates()
    returns table (id uuid, priority integer, last_claimed_at timestamptz, created_at timestamptz,
                   first_priority integer, last_priority integer, first_position integer, last_position integer)
    language sql stable as
$$
with recursive open_batch(batch_id) as (
    (select j.batch_id from job j
     where j.state in ('pending', 'running', 'retry')
     order by j.batch_id limit 1)
    union all
    select (select j.batch_id from job j
            where j.state in ('pending', 'running', 'retry') and j.batch_id > o.batch_id
            order by j.batch_id limit 1)
    from open_batch o where o.batch_id is not null
)
select b.id, b.priority, b.last_claimed_at, b.created_at,
       head.priority as first_priority,
       case when b.mode = 'parallel' then 1000 else head.priority end as last_priority,
       case when b.mode = 'sequential' then head.position else 0 end as first_position,
       case when b.mode = 'sequential' then head.position else 2147483647 end as last_position
from open_batch o
     join batch b on b.id = o.batch_id
     cross join lateral (
         select h.priority, h.position from job h
         where h.batch_id = b.id and h.state in ('pending', 'running', 'retry')
         order by h.priority, h.position limit 1) head
where b.mode <> 'sequential'
   or not exists (select 1 from job r where r.batch_id = b.id and r.state = 'running')
$$;

-- claimable_jobs(kind): the jobs of a backend kind that an executor could claim now, by the claim's own predicate
-- (inside their batch's window, pending or retry, run_after reached). Ollama jobs count whatever their model: an
-- executor that scales up brings the models the studio deploys. KEDA divides it by an executor's slots.
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
