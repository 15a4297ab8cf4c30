-- Export lines are numbered after their transactions end, by one sequencer at a time: the second way of DESIGN.md's
-- "Exports that never skip a line". Until now each writing transaction took the counter row and held it until it
-- committed, so every completion in the cluster waited for the whole of the one before it (the bench's queue core
-- was capped at one 100-job completion per ~25 ms, whatever the cores).
--
-- Now writers insert lines with seq null, each tagged with its transaction id. number_export_lines() numbers, in
-- (xid, id) order, the lines of transactions older than every transaction still running, and exports serve only
-- numbered lines. Every round takes the counter row first, so rounds follow one another and each numbers after the
-- last number handed out: a reader that resumes after the last seq it saw never skips a line.

alter table ledger_line drop constraint ledger_line_pkey;
alter table ledger_line alter column seq drop not null;
alter table ledger_line add column id bigint generated always as identity primary key;
alter table ledger_line add column xid xid8 not null default pg_current_xact_id();
create unique index ledger_line_seq on ledger_line (seq);
create index ledger_line_unnumbered on ledger_line (xid, id) where seq is null;

alter table event_line drop constraint event_line_pkey;
alter table event_line alter column seq drop not null;
alter table event_line add column id bigint generated always as identity primary key;
alter table event_line add column xid xid8 not null default pg_current_xact_id();
create unique index event_line_seq on event_line (seq);
create index event_line_unnumbered on event_line (xid, id) where seq is null;

-- The lines are a log of what happened, written by triggers from rows that exist: a foreign key check per line was
-- a fifth of a completion's time. Exports join the job, so a line whose job is gone is not served.
alter table ledger_line drop constraint ledger_line_job_id_fkey;
alter table event_line drop constraint event_line_job_id_fkey;
-- Likewise an attempt: only the claim inserts one, for the job row that same statement holds locked, so its job
-- exists by construction. The check was a quarter of a claim's time.
alter table attempt drop constraint attempt_job_id_fkey;

drop function export_next_seq(bigint);

-- Numbers up to max_lines waiting lines of each log; returns how many it numbered. Safe to call from anywhere at
-- any time: a second caller waits for the first round to commit, then numbers what is left.
create function number_export_lines(max_lines integer) returns bigint
    language plpgsql as
$$
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
    update ledger_line l set seq = last + t.n from todo t where l.id = t.id;
    get diagnostics ledger = row_count;
    last := last + ledger;
    with todo as (
        select l.id, row_number() over (order by l.xid, l.id) as n
        from (select id, xid from event_line where seq is null and xid < horizon order by xid, id limit max_lines) l)
    update event_line l set seq = last + t.n from todo t where l.id = t.id;
    get diagnostics events = row_count;
    update export_counter set last_seq = last + events where id = 1;
    return ledger + events;
end
$$;

-- The writers' triggers, without a number. An Ollama result's text is read directly; result_summary(), which is
-- not inlined, runs only for results without one (ComfyUI's).
create or replace function ledger_on_terminal() returns trigger
    language plpgsql as
$$
begin
    insert into ledger_line (job_id, batch_id, status, details, attempts, occurred_at)
    select nw.id, nw.batch_id, nw.state,
           left(coalesce(nw.result ->> 'text', result_summary(nw.result), nw.error, ''), 200), nw.attempt,
           nw.finished_at
    from new_rows nw join old_rows o on o.id = nw.id
    where nw.state in ('success', 'failed', 'cancelled') and nw.state <> o.state;
    return null;
end
$$;

create or replace function events_on_attempt_closed() returns trigger
    language plpgsql as
$$
begin
    insert into event_line (job_id, batch_id, attempt, executor_id, status, elapsed_sec, result_preview, occurred_at)
    select nw.job_id, j.batch_id, nw.attempt, nw.executor_id, nw.status,
           greatest(0, extract(epoch from nw.finished_at - nw.started_at)),
           left(coalesce(case when nw.status = 'success'
                              then coalesce(j.result ->> 'text', result_summary(j.result)) end, nw.error, ''), 200),
           nw.finished_at
    from new_rows nw
         join old_rows o on o.lease_token = nw.lease_token
         join job j on j.id = nw.job_id
    where o.status = 'running' and nw.status <> 'running';
    return null;
end
$$;

create or replace function events_on_hand_back() returns trigger
    language plpgsql as
$$
begin
    insert into event_line (job_id, batch_id, attempt, executor_id, status, elapsed_sec, result_preview, occurred_at)
    select o.job_id, j.batch_id, null, o.executor_id, 'handed_back',
           greatest(0, extract(epoch from clock_timestamp() - o.started_at)), coalesce(left(j.waiting_reason, 200), ''),
           now()
    from old_rows o join job j on j.id = o.job_id
    where o.status = 'running';
    return null;
end
$$;
