-- Export lines carry everything they show, so a line no longer depends on its job still being stored (a batch may
-- one day be deleted while its ledger stays), and each is rendered as JSONL once, when it is numbered: an export
-- then reads one column of one table, where the join with job and the rendering cost 4.5 s per million lines.
alter table ledger_line
    add column crew text,     -- as shown: the crew, or the job's type for a job that is not a crew job
    add column task text,     -- as shown: the task, or the job's key
    add column key text,
    add column priority integer,
    add column model text,    -- null for a job without a model (ComfyUI)
    add column type text;
alter table event_line
    add column crew text,
    add column task text,
    add column priority integer;

update ledger_line l
set crew = coalesce(j.crew, j.type), task = coalesce(j.task, j.key), key = j.key, priority = j.priority,
    model = j.model, type = j.type
from job j
where j.id = l.job_id;
update event_line l
set crew = coalesce(j.crew, j.type), task = coalesce(j.task, j.key), priority = j.priority
from job j
where j.id = l.job_id;
-- A line whose job is already gone (none are expected) was never exported, since the export joined job; it keeps
-- what little is known rather than being dropped.
update ledger_line set crew = '', task = '', key = '', priority = 0, type = '' where crew is null;
update event_line set crew = '', task = '', priority = 0 where crew is null;

alter table ledger_line
    alter column crew set not null, alter column task set not null, alter column key set not null,
    alter column priority set not null, alter column type set not null;
alter table event_line
    alter column crew set not null, alter column task set not null, alter column priority set not null;

create or replace function ledger_on_terminal() returns trigger language plpgsql as $$
begin
    if not exists (select 1 from new_rows where state in ('success', 'failed', 'cancelled')) then
        return null;
    end if;
    insert into ledger_line (job_id, batch_id, status, details, attempts, occurred_at,
                             crew, task, key, priority, model, type)
    select nw.id, nw.batch_id, nw.state,
           left(coalesce(nw.result ->> 'text', result_summary(nw.result), nw.error, ''), 200), nw.attempt,
           nw.finished_at,
           coalesce(nw.crew, nw.type), coalesce(nw.task, nw.key), nw.key, nw.priority, nw.model, nw.type
    from new_rows nw join old_rows o on o.id = nw.id
    where nw.state in ('success', 'failed', 'cancelled') and nw.state <> o.state;
    return null;
end
$$;

create or replace function events_on_attempt_closed() returns trigger language plpgsql as $$
begin
    insert into event_line (job_id, batch_id, attempt, executor_id, status, elapsed_sec, result_preview, occurred_at,
                            crew, task, priority)
    select nw.job_id, j.batch_id, nw.attempt, nw.executor_id, nw.status,
           greatest(0, extract(epoch from nw.finished_at - nw.started_at)),
           left(coalesce(case when nw.status = 'success'
                              then coalesce(j.result ->> 'text', result_summary(j.result)) end, nw.error, ''), 200),
           nw.finished_at,
           coalesce(j.crew, j.type), coalesce(j.task, j.key), j.priority
    from new_rows nw
         join old_rows o on o.lease_token = nw.lease_token
         join job j on j.id = nw.job_id
    where o.status = 'running' and nw.status <> 'running';
    return null;
end
$$;

create or replace function events_on_hand_back() returns trigger language plpgsql as $$
begin
    insert into event_line (job_id, batch_id, attempt, executor_id, status, elapsed_sec, result_preview, occurred_at,
                            crew, task, priority)
    select o.job_id, j.batch_id, null, o.executor_id, 'handed_back',
           greatest(0, extract(epoch from clock_timestamp() - o.started_at)), coalesce(left(j.waiting_reason, 200), ''),
           now(),
           coalesce(j.crew, j.type), coalesce(j.task, j.key), j.priority
    from old_rows o join job j on j.id = o.job_id
    where o.status = 'running';
    return null;
end
$$;

-- The JSONL form of a line (API.md, exports), without its newline, for the seq it is given. Written by concatenation,
-- which measured 1.4x faster than json_build_object and leaves no spaces after the colons; every text that may hold
-- any character goes through to_json, which escapes what JSON requires (the key, the type and the status are
-- checked words). Timestamps are UTC with microseconds, as stored.
create function ledger_line_json(l ledger_line, seq bigint) returns text language sql stable parallel safe as $$
    select '{"seq":' || seq || ',"job_id":"' || l.job_id || '","batch_id":"' || l.batch_id
        || '","crew":' || to_json(l.crew) || ',"task":' || to_json(l.task) || ',"status":"' || l.status
        || '","details":' || to_json(l.details)
        || ',"timestamp":"' || to_char(l.occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
        || '","metadata":{"attempts":' || l.attempts || ',"key":' || to_json(l.key) || ',"priority":' || l.priority
        || ',"model":' || coalesce(to_json(l.model)::text, 'null') || ',"type":' || to_json(l.type) || '}}'
$$;

create function event_line_json(l event_line, seq bigint) returns text language sql stable parallel safe as $$
    select '{"seq":' || seq
        || ',"timestamp":"' || to_char(l.occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
        || '","task":{"crew":' || to_json(l.crew) || ',"task":' || to_json(l.task) || ',"priority":' || l.priority
        || '},"status":"' || l.status || '","elapsed_sec":' || to_json(l.elapsed_sec)
        || ',"result_preview":' || to_json(l.result_preview) || ',"attempt":' || coalesce(l.attempt::text, 'null')
        || ',"executor":' || to_json(l.executor_id) || ',"job_id":"' || l.job_id || '","batch_id":"' || l.batch_id
        || '"}'
$$;

-- The rendered line, stored by the numbering, which rewrites the row anyway; a line has one once it has a seq.
alter table ledger_line add column line text;
alter table event_line add column line text;
update ledger_line l set line = ledger_line_json(l, l.seq) where seq is not null;
update event_line l set line = event_line_json(l, l.seq) where seq is not null;
alter table ledger_line add constraint ledger_line_numbered_lines_rendered check ((seq is null) = (line is null));
alter table event_line add constraint event_line_numbered_lines_rendered check ((seq is null) = (line is null));

create or replace function number_export_lines(max_lines integer) returns bigint language plpgsql as $$
declare
    horizon  xid8 := pg_snapshot_xmin(pg_current_snapshot());
    last     bigint;
    ledger   bigint;
    events   bigint;
begin
    if not exists (select 1 from ledger_line where seq is null and xid < horizon)
       and not exists (select 1 from event_line where seq is null and xid < horizon) then
        return 0; -- the common case for a reader: nothing to number, no lock taken
    end if;
    select last_seq into last from export_counter where id = 1 for update;
    with todo as (
        select l.id, row_number() over (order by l.xid, l.id) as n
        from (select id, xid from ledger_line where seq is null and xid < horizon order by xid, id limit max_lines) l)
    update ledger_line l set seq = last + t.n, line = ledger_line_json(l, last + t.n) from todo t where l.id = t.id;
    get diagnostics ledger = row_count;
    last := last + ledger;
    with todo as (
        select l.id, row_number() over (order by l.xid, l.id) as n
        from (select id, xid from event_line where seq is null and xid < horizon order by xid, id limit max_lines) l)
    update event_line l set seq = last + t.n, line = event_line_json(l, last + t.n) from todo t where l.id = t.id;
    get diagnostics events = row_count;
    update export_counter set last_seq = last + events where id = 1;
    return ledger + events;
end
$$;
