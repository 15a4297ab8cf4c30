-- Atelier schema. Invariants are named constraints so a breach names itself in the error.
-- Every job SQL statement lives in the job-store module (dev.atelier.store).

create table batch (
    id                 uuid primary key,
    name               text        not null constraint batch_name_length check (char_length(name) between 1 and 200),
    mode               text        not null constraint batch_mode_valid check (mode in ('priority', 'parallel', 'sequential')),
    priority           integer     not null constraint batch_priority_range check (priority between 0 and 1000),
    labels             jsonb       not null default '{}' constraint batch_labels_object check (jsonb_typeof(labels) = 'object'),
    max_attempts       integer     not null constraint batch_max_attempts_range check (max_attempts between 1 and 20),
    retry_delay_ms     bigint      not null constraint batch_retry_delay_range check (retry_delay_ms between 0 and 3600000),
    retry_backoff      double precision not null constraint batch_retry_backoff_range check (retry_backoff between 1.0 and 10.0),
    job_count          integer     not null constraint batch_job_count_range check (job_count between 1 and 10000),
    submitted_by       text,
    -- Idempotency-Key, scoped to the submitting token's name ('' when auth is off)
    idempotency_scope  text,
    idempotency_key    text        constraint batch_idempotency_key_length check (char_length(idempotency_key) between 1 and 200),
    request_hash       text,
    created_at         timestamptz not null default now(),
    cancelled_at       timestamptz,
    -- fair share: batches of equal priority take turns, the one served longest ago first
    last_claimed_at    timestamptz,
    constraint batch_idempotency_complete check ((idempotency_key is null) = (idempotency_scope is null))
);
create unique index batch_idempotency on batch (idempotency_scope, idempotency_key) where idempotency_key is not null;
create index batch_created on batch (created_at, id);

create table job (
    id                  uuid primary key,
    batch_id            uuid        not null references batch (id) on delete cascade,
    position            integer     not null constraint job_position_range check (position >= 0),
    key                 text        not null constraint job_key_format check (key ~ '^[A-Za-z0-9._-]{1,100}$'),
    priority            integer     not null constraint job_priority_range check (priority between 0 and 1000),
    -- copied from the batch so the one-running-job rule below can be an index
    sequential          boolean     not null,
    kind                text        not null constraint job_kind_valid check (kind in ('ollama', 'comfyui')),
    type                text        not null constraint job_type_valid check (type in ('ollama.generate', 'ollama.chat', 'comfyui.workflow')),
    model               text,
    crew                text,
    task                text,
    spec                jsonb       not null,
    timeout_ms          bigint      not null constraint job_timeout_range check (timeout_ms between 1000 and 86400000),
    state               text        not null default 'pending'
                        constraint job_state_valid check (state in ('pending', 'running', 'retry', 'success', 'failed', 'cancelled')),
    -- number of the newest attempt shown in the history (never reused; hand-backs are not shown)
    attempt             integer     not null default 0 constraint job_attempt_nonnegative check (attempt >= 0),
    -- attempts spent from the current budget (a retry by hand resets it)
    attempts_used       integer     not null default 0,
    max_attempts        integer     not null constraint job_max_attempts_range check (max_attempts between 1 and 20),
    run_after           timestamptz not null default '-infinity',
    lease_token         uuid,
    lease_expires_at    timestamptz,
    executor_id         text,
    cancel_requested_at timestamptz,
    waiting_reason      text,
    created_at          timestamptz not null default now(),
    started_at          timestamptz,
    finished_at         timestamptz,
    result              jsonb,
    error               text,
    progress            real        constraint job_progress_range check (progress between 0 and 1),
    constraint job_type_matches_kind check (type like kind || '.%'),
    constraint job_ollama_has_model check (kind <> 'ollama' or model is not null),
    constraint job_attempts_within_budget check (attempts_used between 0 and max_attempts),
    constraint job_running_has_lease check ((state = 'running') = (lease_token is not null and lease_expires_at is not null)),
    constraint job_finished_iff_terminal check ((state in ('success', 'failed', 'cancelled')) = (finished_at is not null)),
    constraint job_success_has_result check (state <> 'success' or result is not null),
    constraint job_crew_has_task check ((crew is null) = (task is null)),
    constraint job_key_unique unique (batch_id, key)
);
-- The fetch index: open jobs of a batch in claim order (job priority, then position in the batch).
-- The claim also walks its leading column to find the batches that have open work.
create index job_open on job (batch_id, priority, position) where state in ('pending', 'running', 'retry');
-- running jobs: a batch's running count (sequential gate) and the reaper's expired leases
create index job_running_batch on job (batch_id) where state = 'running';
create index job_lease_expiry on job (lease_expires_at) where state = 'running';
create index job_lease_token on job (lease_token) where lease_token is not null;
-- Invariant 3 as a backstop: a sequential batch never has two running jobs.
create unique index job_one_running_per_sequential_batch on job (batch_id) where state = 'running' and sequential;

-- The job state machine: the only transitions any statement may make.
create function job_transition_allowed(from_state text, to_state text) returns boolean
    language sql immutable as
$$
select (from_state, to_state) in (
    ('pending', 'running'), ('pending', 'cancelled'), ('pending', 'failed'),
    ('retry', 'running'), ('retry', 'cancelled'), ('retry', 'failed'),
    ('running', 'success'), ('running', 'failed'), ('running', 'retry'), ('running', 'cancelled'),
    ('running', 'pending'),                         -- hand-back: no attempt spent
    ('failed', 'pending'), ('cancelled', 'pending') -- retry by hand, fresh budget
)
$$;

create function job_check_transition() returns trigger
    language plpgsql as
$$
begin
    if not job_transition_allowed(old.state, new.state) then
        raise exception 'job %: illegal state transition % -> %', new.id, old.state, new.state
            using errcode = 'check_violation', constraint = 'job_state_transition';
    end if;
    return new;
end
$$;

create trigger job_state_transition
    before update of state on job
    for each row when (old.state is distinct from new.state)
execute function job_check_transition();

-- Spent-attempt history. A row is made at claim; a hand-back deletes it (not spent, not shown).
create table attempt (
    job_id      uuid        not null references job (id) on delete cascade,
    attempt     integer     not null constraint attempt_number_positive check (attempt > 0),
    lease_token uuid        not null constraint attempt_lease_token_unique unique,
    executor_id text        not null,
    status      text        not null constraint attempt_status_valid check (status in ('running', 'success', 'failed', 'cancelled')),
    started_at  timestamptz not null,
    finished_at timestamptz,
    error       text,
    primary key (job_id, attempt),
    constraint attempt_finished_iff_closed check ((status = 'running') = (finished_at is null))
);

-- Export logs. seq comes from one counter row that a writing transaction locks until it commits,
-- so seq follows commit order and a reader resuming with after_seq never skips a line.
create table export_counter (
    id       integer primary key constraint export_counter_single_row check (id = 1),
    last_seq bigint  not null
);
insert into export_counter (id, last_seq) values (1, 0);

create table ledger_line (
    seq         bigint primary key,
    job_id      uuid        not null references job (id) on delete cascade,
    batch_id    uuid        not null,
    status      text        not null constraint ledger_line_status_terminal check (status in ('success', 'failed', 'cancelled')),
    details     text        not null,
    attempts    integer     not null,
    occurred_at timestamptz not null
);
create index ledger_line_batch on ledger_line (batch_id, seq);

create table event_line (
    seq            bigint primary key,
    job_id         uuid        not null references job (id) on delete cascade,
    batch_id       uuid        not null,
    attempt        integer,
    executor_id    text        not null,
    status         text        not null constraint event_line_status_valid check (status in ('success', 'failed', 'cancelled', 'handed_back')),
    elapsed_sec    double precision not null,
    result_preview text        not null,
    occurred_at    timestamptz not null,
    constraint event_line_hand_back_has_no_attempt check ((status = 'handed_back') = (attempt is null))
);
create index event_line_batch on event_line (batch_id, seq);

-- Takes n numbers from the export counter; the row stays locked until the transaction ends.
create function export_next_seq(n bigint) returns bigint
    language sql as
$$
update export_counter set last_seq = last_seq + n where id = 1 returning last_seq - n
$$;

-- A ledger line each time a job reaches a terminal state, whichever statement moved it.
create function ledger_on_terminal() returns trigger
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
           left(coalesce(nw.result ->> 'text', nw.error, ''), 200), nw.attempt, nw.finished_at
    from new_rows nw join old_rows o on o.id = nw.id
    where nw.state in ('success', 'failed', 'cancelled') and nw.state <> o.state;
    return null;
end
$$;

create trigger job_ledger_line
    after update on job
    referencing old table as old_rows new table as new_rows
    for each statement
execute function ledger_on_terminal();

-- An event line for each attempt that closes (spent or cancelled) and for each hand-back.
create function events_on_attempt_closed() returns trigger
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
           left(coalesce(case when nw.status = 'success' then j.result ->> 'text' end, nw.error, ''), 200),
           nw.finished_at
    from new_rows nw
         join old_rows o on o.lease_token = nw.lease_token
         join job j on j.id = nw.job_id
    where o.status = 'running' and nw.status <> 'running';
    return null;
end
$$;

create trigger attempt_event_line
    after update on attempt
    referencing old table as old_rows new table as new_rows
    for each statement
execute function events_on_attempt_closed();

create function events_on_hand_back() returns trigger
    language plpgsql as
$$
declare
    n    bigint;
    base bigint;
begin
    select count(*) into n from old_rows where status = 'running';
    if n = 0 then
        return null;
    end if;
    base := export_next_seq(n);
    insert into event_line (seq, job_id, batch_id, attempt, executor_id, status, elapsed_sec, result_preview, occurred_at)
    select base + row_number() over (order by o.lease_token), o.job_id, j.batch_id, null, o.executor_id, 'handed_back',
           greatest(0, extract(epoch from clock_timestamp() - o.started_at)), coalesce(left(j.waiting_reason, 200), ''), now()
    from old_rows o join job j on j.id = o.job_id
    where o.status = 'running';
    return null;
end
$$;

create trigger attempt_hand_back_event_line
    after delete on attempt
    referencing old table as old_rows
    for each statement
execute function events_on_hand_back();

-- Named job templates.
create table crew (
    name       text primary key constraint crew_name_format check (name ~ '^[a-z0-9-]{1,64}$'),
    template   jsonb       not null constraint crew_template_object check (jsonb_typeof(template) = 'object'),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

-- Executors and what their backends offer. An executor is live while its heartbeats are recent.
create table executor (
    id           text primary key,
    started_at   timestamptz not null default now(),
    last_seen_at timestamptz not null default now(),
    slots        jsonb       not null default '{}',
    busy         jsonb       not null default '{}'
);

create table executor_backend (
    executor_id text        not null references executor (id) on delete cascade,
    kind        text        not null constraint executor_backend_kind_valid check (kind in ('ollama', 'comfyui')),
    url         text        not null,
    status      text        not null constraint executor_backend_status_valid check (status in ('online', 'offline', 'degraded')),
    models      text[]      not null default '{}',
    checked_at  timestamptz,
    detail      text,
    primary key (executor_id, kind)
);

-- Files a job produced (ComfyUI images).
create table artifact (
    id           uuid primary key,
    job_id       uuid        not null references job (id) on delete cascade,
    attempt      integer     not null,
    name         text        not null,
    content_type text        not null,
    size         bigint      not null,
    sha256       text        not null constraint artifact_sha256_hex check (sha256 ~ '^[0-9a-f]{64}$'),
    data         bytea       not null,
    created_at   timestamptz not null default now(),
    constraint artifact_size_matches check (size = octet_length(data))
);
create index artifact_job on artifact (job_id);
