-- Job counts per batch, priority group, backend kind and state, kept in the transaction that changes a job
-- (DESIGN.md: no count(*) over the whole job table on a hot path). The summary, the batch list and the ledger's
-- metrics read these instead of the job table.
--
-- Writers only append deltas, so claimers and completers never wait on a shared counter row. A compaction
-- (JobCounts.compact, run by the executors' maintenance loop) folds the deltas into job_count. Readers add both,
-- through the job_counts view, so a count is exact whether or not the compaction has run.

create table job_count (
    batch_id uuid    not null references batch (id) on delete cascade,
    priority integer not null,
    kind     text    not null,
    state    text    not null,
    jobs     bigint  not null,
    primary key (batch_id, priority, kind, state)
);

-- no key and no foreign key: appends stay cheap; the compaction drops deltas of batches that were deleted
create table job_count_delta (
    batch_id uuid    not null,
    priority integer not null,
    kind     text    not null,
    state    text    not null,
    jobs     bigint  not null
);

create view job_counts as
select batch_id, priority, kind, state, sum(jobs)::bigint as jobs
from (select batch_id, priority, kind, state, jobs from job_count
      union all
      select batch_id, priority, kind, state, jobs from job_count_delta) c
group by batch_id, priority, kind, state;

create function job_count_on_insert() returns trigger
    language plpgsql as
$$
begin
    insert into job_count_delta (batch_id, priority, kind, state, jobs)
    select batch_id, priority, kind, state, count(*) from new_rows group by batch_id, priority, kind, state;
    return null;
end
$$;

-- batch, priority and kind never change, so a row's move is -1 on its old state and +1 on its new one; updates
-- that keep the state (heartbeats) cancel out and append nothing
create function job_count_on_update() returns trigger
    language plpgsql as
$$
begin
    insert into job_count_delta (batch_id, priority, kind, state, jobs)
    select batch_id, priority, kind, state, sum(n)
    from (select batch_id, priority, kind, state, -1 as n from old_rows
          union all
          select batch_id, priority, kind, state, 1 from new_rows) moves
    group by batch_id, priority, kind, state
    having sum(n) <> 0;
    return null;
end
$$;

create function job_count_on_delete() returns trigger
    language plpgsql as
$$
begin
    -- jobs deleted with their batch need no delta: the batch's job_count rows go with it (on delete cascade)
    insert into job_count_delta (batch_id, priority, kind, state, jobs)
    select o.batch_id, o.priority, o.kind, o.state, -count(*) from old_rows o
    where exists (select 1 from batch b where b.id = o.batch_id)
    group by o.batch_id, o.priority, o.kind, o.state;
    return null;
end
$$;

create trigger job_count_insert after insert on job
    referencing new table as new_rows for each statement execute function job_count_on_insert();
create trigger job_count_update after update on job
    referencing old table as old_rows new table as new_rows for each statement execute function job_count_on_update();
create trigger job_count_delete after delete on job
    referencing old table as old_rows for each statement execute function job_count_on_delete();

insert into job_count (batch_id, priority, kind, state, jobs)
select batch_id, priority, kind, state, count(*) from job group by batch_id, priority, kind, state;

-- The ledger's lists of failed and cancelled jobs across batches, newest first (rare rows: cheap to keep).
create index job_unsuccessful on job (id) where state in ('failed', 'cancelled');
-- Recent artifacts for the dashboard's thumbnails.
create index artifact_created on artifact (created_at, id);
-- The label filter of the summary and the batch list.
create index batch_labels on batch using gin (labels jsonb_path_ops);
-- the batch list reads a page of batches' counts at a time
create index job_count_delta_batch on job_count_delta (batch_id);
