-- The backend's own id for a job's run (ComfyUI's prompt_id). The executor makes it and commits it here before it
-- submits the run, so that after a crash or a hand-back the next attempt can find the run and adopt it instead of
-- starting the same GPU work again. It stays across attempts; the runner decides whether the run it names is alive.
alter table job add column backend_ref text;

-- Artifact bytes, stored once per content: two outputs with the same bytes (or the same output collected again
-- after an adoption) share one blob.
create table artifact_blob (
    sha256 text   primary key constraint artifact_blob_sha256_hex check (sha256 ~ '^[0-9a-f]{64}$'),
    size   bigint not null,
    data   bytea  not null,
    constraint artifact_blob_size_matches check (size = octet_length(data))
);

insert into artifact_blob (sha256, size, data)
select distinct on (sha256) sha256, size, data from artifact order by sha256;

alter table artifact drop constraint artifact_size_matches;
alter table artifact drop column data;
alter table artifact add constraint artifact_blob_exists foreign key (sha256) references artifact_blob (sha256);
-- a job's output is recorded once, however often it is collected
alter table artifact add constraint artifact_once_per_job unique (job_id, name, sha256);

-- What a result says in one line: an Ollama job's text, or a ComfyUI job's output file names.
create function result_summary(result jsonb) returns text
    language sql immutable as
$$
select coalesce(result ->> 'text',
                (select string_agg(a ->> 'name', ', ')
                 from jsonb_array_elements(case when jsonb_typeof(result -> 'artifacts') = 'array'
                                                then result -> 'artifacts' else '[]' end) a))
$$;

-- The export lines' details and previews now use it, so a ComfyUI job's line names its outputs.
create or replace function ledger_on_terminal() returns trigger
    language plpgsql as
$$
declare
    n    bigint;
    base bigint;
begin
    select count(*) into n
    from new_rows nw join old_rows o on o.id = nw.id
    where nw.state in ('success', 'failed', 'cancelled') and nw.state <> o.state;
    if n = 0 then
        return null;
    end if;
    base := export_next_seq(n);
    insert into ledger_line (seq, job_id, batch_id, status, details, attempts, occurred_at)
    select base + row_number() over (order by nw.id), nw.id, nw.batch_id, nw.state,
           left(coalesce(result_summary(nw.result), nw.error, ''), 200), nw.attempt, nw.finished_at
    from new_rows nw join old_rows o on o.id = nw.id
    where nw.state in ('success', 'failed', 'cancelled') and nw.state <> o.state;
    return null;
end
$$;

create or replace function events_on_attempt_closed() returns trigger
    language plpgsql as
$$
declare
    n    bigint;
    base bigint;
begin
    select count(*) into n
    from new_rows nw join old_rows o on o.lease_token = nw.lease_token
    where o.status = 'running' and nw.status <> 'running';
    if n = 0 then
        return null;
    end if;
    base := export_next_seq(n);
    insert into event_line (seq, job_id, batch_id, attempt, executor_id, status, elapsed_sec, result_preview, occurred_at)
    select base + row_number() over (order by nw.lease_token), nw.job_id, j.batch_id, nw.attempt, nw.executor_id, nw.status,
           greatest(0, extract(epoch from nw.finished_at - nw.started_at)),
           left(coalesce(case when nw.status = 'success' then result_summary(j.result) end, nw.error, ''), 200),
           nw.finished_at
    from new_rows nw
         join old_rows o on o.lease_token = nw.lease_token
         join job j on j.id = nw.job_id
    where o.status = 'running' and nw.status <> 'running';
    return null;
end
$$;
