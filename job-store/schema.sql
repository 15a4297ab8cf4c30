-- The schema the migrations in src/main/resources/db/migration make, for reading and for review. Generated
-- from the catalogs by SchemaTests, which fails when this file differs from what the migrations make.

create table artifact (
    id uuid not null,
    job_id uuid not null,
    attempt integer not null,
    name text not null,
    content_type text not null,
    size bigint not null,
    sha256 text not null,
    created_at timestamp with time zone not null default now(),
    constraint artifact_blob_exists FOREIGN KEY (sha256) REFERENCES artifact_blob(sha256),
    constraint artifact_job_id_fkey FOREIGN KEY (job_id) REFERENCES job(id) ON DELETE CASCADE,
    constraint artifact_once_per_job UNIQUE (job_id, name, sha256),
    constraint artifact_pkey PRIMARY KEY (id),
    constraint artifact_sha256_hex CHECK ((sha256 ~ '^[0-9a-f]{64}$'::text))
);

create table artifact_blob (
    sha256 text not null,
    size bigint not null,
    data bytea,
    constraint artifact_blob_pkey PRIMARY KEY (sha256),
    constraint artifact_blob_sha256_hex CHECK ((sha256 ~ '^[0-9a-f]{64}$'::text)),
    constraint artifact_blob_size_matches CHECK ((size = octet_length(data)))
);

create table artifact_thumbnail (
    sha256 text not null,
    size integer not null,
    content_type text not null,
    data bytea,
    constraint artifact_thumbnail_blob FOREIGN KEY (sha256) REFERENCES artifact_blob(sha256) ON DELETE CASCADE,
    constraint artifact_thumbnail_pkey PRIMARY KEY (sha256, size),
    constraint artifact_thumbnail_size_range CHECK (((size >= 16) AND (size <= 1024)))
);

create table attempt (
    job_id uuid not null,
    attempt integer not null,
    lease_token uuid not null,
    executor_id text not null,
    status text not null,
    started_at timestamp with time zone not null,
    finished_at timestamp with time zone,
    error text,
    constraint attempt_finished_iff_closed CHECK (((status = 'running'::text) = (finished_at IS NULL))),
    constraint attempt_lease_token_unique UNIQUE (lease_token),
    constraint attempt_number_positive CHECK ((attempt > 0)),
    constraint attempt_pkey PRIMARY KEY (job_id, attempt),
    constraint attempt_status_valid CHECK ((status = ANY (ARRAY['running'::text, 'success'::text, 'failed'::text, 'cancelled'::text])))
);

create table batch (
    id uuid not null,
    name text not null,
    mode text not null,
    priority integer not null,
    labels jsonb not null default '{}'::jsonb,
    max_attempts integer not null,
    retry_delay_ms bigint not null,
    retry_backoff double precision not null,
    job_count integer not null,
    submitted_by text,
    created_at timestamp with time zone not null default now(),
    cancelled_at timestamp with time zone,
    last_claimed_at timestamp with time zone,
    finished_at timestamp with time zone,
    finished_state text,
    constraint batch_finished_complete CHECK (((finished_at IS NULL) = (finished_state IS NULL))),
    constraint batch_finished_state_valid CHECK ((finished_state = ANY (ARRAY['success'::text, 'failed'::text, 'cancelled'::text]))),
    constraint batch_job_count_range CHECK (((job_count >= 1) AND (job_count <= 10000))),
    constraint batch_labels_object CHECK ((jsonb_typeof(labels) = 'object'::text)),
    constraint batch_max_attempts_range CHECK (((max_attempts >= 1) AND (max_attempts <= 20))),
    constraint batch_mode_valid CHECK ((mode = ANY (ARRAY['priority'::text, 'parallel'::text, 'sequential'::text]))),
    constraint batch_name_length CHECK (((char_length(name) >= 1) AND (char_length(name) <= 200))),
    constraint batch_pkey PRIMARY KEY (id),
    constraint batch_priority_range CHECK (((priority >= 0) AND (priority <= 1000))),
    constraint batch_retry_backoff_range CHECK (((retry_backoff >= (1.0)::double precision) AND (retry_backoff <= (10.0)::double precision))),
    constraint batch_retry_delay_range CHECK (((retry_delay_ms >= 0) AND (retry_delay_ms <= 3600000)))
);

create table batch_turn (
    batch_id uuid not null,
    priority integer not null,
    mode text not null,
    created_at timestamp with time zone not null,
    last_claimed_at timestamp with time zone,
    kind text not null,
    constraint batch_turn_batch_id_fkey FOREIGN KEY (batch_id) REFERENCES batch(id) ON DELETE CASCADE,
    constraint batch_turn_kind_valid CHECK ((kind = ANY (ARRAY['ollama'::text, 'comfyui'::text]))),
    constraint batch_turn_pkey PRIMARY KEY (batch_id, kind)
);

create table crew (
    name text not null,
    template jsonb not null,
    created_at timestamp with time zone not null default now(),
    updated_at timestamp with time zone not null default now(),
    constraint crew_name_format CHECK ((name ~ '^[a-z0-9-]{1,64}$'::text)),
    constraint crew_pkey PRIMARY KEY (name),
    constraint crew_template_object_or_steps CHECK ((jsonb_typeof(template) = ANY (ARRAY['object'::text, 'array'::text])))
);

create table event_line (
    seq bigint,
    job_id uuid not null,
    batch_id uuid not null,
    attempt integer,
    executor_id text not null,
    status text not null,
    elapsed_sec double precision not null,
    result_preview text not null,
    occurred_at timestamp with time zone not null,
    id bigint generated always as identity not null,
    xid xid8 not null default pg_current_xact_id(),
    crew text not null,
    task text not null,
    priority integer not null,
    line text,
    constraint event_line_hand_back_has_no_attempt CHECK (((status = 'handed_back'::text) = (attempt IS NULL))),
    constraint event_line_numbered_lines_rendered CHECK (((seq IS NULL) = (line IS NULL))),
    constraint event_line_pkey PRIMARY KEY (id),
    constraint event_line_status_valid CHECK ((status = ANY (ARRAY['success'::text, 'failed'::text, 'cancelled'::text, 'handed_back'::text])))
);

create table executor (
    id text not null,
    started_at timestamp with time zone not null default now(),
    last_seen_at timestamp with time zone not null default now(),
    slots jsonb not null default '{}'::jsonb,
    busy jsonb not null default '{}'::jsonb,
    draining_since timestamp with time zone,
    constraint executor_pkey PRIMARY KEY (id)
);

create table executor_backend (
    executor_id text not null,
    kind text not null,
    url text not null,
    status text not null,
    models text[] not null default '{}'::text[],
    checked_at timestamp with time zone,
    detail text,
    loaded_names text[] not null default '{}'::text[],
    loaded_vram bigint[] not null default '{}'::bigint[],
    loaded_until timestamp with time zone[] not null default '{}'::timestamp with time zone[],
    refused_models text[] not null default '{}'::text[],
    refused_reasons text[] not null default '{}'::text[],
    model_keys text[] not null default '{}'::text[],
    loaded_keys text[] not null default '{}'::text[],
    refused_keys text[] not null default '{}'::text[],
    constraint executor_backend_executor_id_fkey FOREIGN KEY (executor_id) REFERENCES executor(id) ON DELETE CASCADE,
    constraint executor_backend_kind_valid CHECK ((kind = ANY (ARRAY['ollama'::text, 'comfyui'::text]))),
    constraint executor_backend_loaded_lists_match CHECK (((cardinality(loaded_names) = cardinality(loaded_vram)) AND (cardinality(loaded_names) = cardinality(loaded_until)))),
    constraint executor_backend_pkey PRIMARY KEY (executor_id, kind),
    constraint executor_backend_refused_lists_match CHECK ((cardinality(refused_models) = cardinality(refused_reasons))),
    constraint executor_backend_status_valid CHECK ((status = ANY (ARRAY['online'::text, 'offline'::text, 'degraded'::text])))
);

create table export_counter (
    id integer not null,
    last_seq bigint not null,
    constraint export_counter_pkey PRIMARY KEY (id),
    constraint export_counter_single_row CHECK ((id = 1))
);

create table export_trim (
    log text not null,
    through_seq bigint not null,
    constraint export_trim_log_valid CHECK ((log = ANY (ARRAY['ledger'::text, 'events'::text]))),
    constraint export_trim_pkey PRIMARY KEY (log),
    constraint export_trim_seq_nonnegative CHECK ((through_seq >= 0))
);

create table history_point (
    series text not null,
    label text not null,
    at timestamp with time zone not null,
    value double precision not null,
    constraint history_point_pkey PRIMARY KEY (series, label, at),
    constraint history_point_series CHECK ((series = ANY (ARRAY['finished'::text, 'waiting'::text, 'running'::text, 'utilisation'::text])))
);

create table idempotency_key (
    scope text not null,
    key text not null,
    batch_id uuid not null,
    request_hash text not null,
    created_at timestamp with time zone not null default now(),
    constraint idempotency_key_length CHECK (((char_length(key) >= 1) AND (char_length(key) <= 200))),
    constraint idempotency_key_pkey PRIMARY KEY (scope, key)
);

create table job (
    id uuid not null,
    batch_id uuid not null,
    position integer not null,
    key text not null,
    priority integer not null,
    sequential boolean not null,
    kind text not null,
    type text not null,
    model text,
    crew text,
    task text,
    spec jsonb not null,
    timeout_ms bigint not null,
    state text not null default 'pending'::text,
    attempt integer not null default 0,
    attempts_used integer not null default 0,
    max_attempts integer not null,
    run_after timestamp with time zone not null default '-infinity'::timestamp with time zone,
    lease_token uuid,
    lease_expires_at timestamp with time zone,
    executor_id text,
    cancel_requested_at timestamp with time zone,
    waiting_reason text,
    created_at timestamp with time zone not null default now(),
    started_at timestamp with time zone,
    finished_at timestamp with time zone,
    result jsonb,
    error text,
    progress real,
    backend_ref text,
    hand_backs_in_row integer not null default 0,
    checkpoints text[] not null default '{}'::text[],
    avoid_executors text[] not null default '{}'::text[],
    model_key text,
    after_keys text[],
    upstreams_left integer not null default 0,
    has_dependents boolean not null default false,
    spec_template jsonb,
    cancelled_by uuid,
    constraint job_attempt_nonnegative CHECK ((attempt >= 0)),
    constraint job_attempts_within_budget CHECK (((attempts_used >= 0) AND (attempts_used <= max_attempts))),
    constraint job_batch_id_fkey FOREIGN KEY (batch_id) REFERENCES batch(id) ON DELETE CASCADE,
    constraint job_crew_has_task CHECK (((crew IS NULL) = (task IS NULL))),
    constraint job_finished_iff_terminal CHECK (((state = ANY (ARRAY['success'::text, 'failed'::text, 'cancelled'::text])) = (finished_at IS NOT NULL))),
    constraint job_hand_backs_in_row_nonnegative CHECK ((hand_backs_in_row >= 0)),
    constraint job_key_format CHECK (((key ~ '^[A-Za-z0-9._-]+$'::text) AND (char_length(key) <= 100))),
    constraint job_key_unique UNIQUE (batch_id, key),
    constraint job_kind_valid CHECK ((kind = ANY (ARRAY['ollama'::text, 'comfyui'::text]))),
    constraint job_max_attempts_range CHECK (((max_attempts >= 1) AND (max_attempts <= 20))),
    constraint job_model_key_with_model CHECK (((model IS NULL) = (model_key IS NULL))),
    constraint job_ollama_has_model CHECK (((kind <> 'ollama'::text) OR (model IS NOT NULL))),
    constraint job_pkey PRIMARY KEY (id),
    constraint job_position_range CHECK (("position" >= 0)),
    constraint job_priority_range CHECK (((priority >= 0) AND (priority <= 1000))),
    constraint job_progress_range CHECK (((progress >= (0)::double precision) AND (progress <= (1)::double precision))),
    constraint job_running_has_lease CHECK (((state = 'running'::text) = ((lease_token IS NOT NULL) AND (lease_expires_at IS NOT NULL)))),
    constraint job_state_valid CHECK ((state = ANY (ARRAY['pending'::text, 'running'::text, 'retry'::text, 'success'::text, 'failed'::text, 'cancelled'::text]))),
    constraint job_success_has_result CHECK (((state <> 'success'::text) OR (result IS NOT NULL))),
    constraint job_timeout_range CHECK (((timeout_ms >= 1000) AND (timeout_ms <= 86400000))),
    constraint job_type_matches_kind CHECK ((type ~~ (kind || '.%'::text))),
    constraint job_type_valid CHECK ((type = ANY (ARRAY['ollama.generate'::text, 'ollama.chat'::text, 'comfyui.workflow'::text]))),
    constraint job_upstreams_left_range CHECK ((upstreams_left >= 0))
) with (fillfactor=90);

create table job_count (
    batch_id uuid not null,
    priority integer not null,
    kind text not null,
    state text not null,
    jobs bigint not null,
    constraint job_count_batch_id_fkey FOREIGN KEY (batch_id) REFERENCES batch(id) ON DELETE CASCADE,
    constraint job_count_pkey PRIMARY KEY (batch_id, priority, kind, state)
);

create table job_count_delta (
    batch_id uuid not null,
    priority integer not null,
    kind text not null,
    state text not null,
    jobs bigint not null
);

create table job_total (
    priority integer not null,
    kind text not null,
    state text not null,
    jobs bigint not null,
    constraint job_total_pkey PRIMARY KEY (priority, kind, state)
);

create table job_upstream (
    job_id uuid not null,
    upstream_id uuid not null,
    constraint job_upstream_job_id_fkey FOREIGN KEY (job_id) REFERENCES job(id) ON DELETE CASCADE,
    constraint job_upstream_not_self CHECK ((job_id <> upstream_id)),
    constraint job_upstream_pkey PRIMARY KEY (job_id, upstream_id),
    constraint job_upstream_upstream_id_fkey FOREIGN KEY (upstream_id) REFERENCES job(id) ON DELETE CASCADE
);

create table ledger_line (
    seq bigint,
    job_id uuid not null,
    batch_id uuid not null,
    status text not null,
    details text not null,
    attempts integer not null,
    occurred_at timestamp with time zone not null,
    id bigint generated always as identity not null,
    xid xid8 not null default pg_current_xact_id(),
    crew text not null,
    task text not null,
    key text not null,
    priority integer not null,
    model text,
    type text not null,
    line text,
    after_keys text[],
    constraint ledger_line_numbered_lines_rendered CHECK (((seq IS NULL) = (line IS NULL))),
    constraint ledger_line_pkey PRIMARY KEY (id),
    constraint ledger_line_status_terminal CHECK ((status = ANY (ARRAY['success'::text, 'failed'::text, 'cancelled'::text])))
);

CREATE INDEX artifact_blob_in_postgres ON public.artifact_blob USING btree (sha256) WHERE (data IS NOT NULL);
CREATE INDEX artifact_created ON public.artifact USING btree (created_at, id);
CREATE INDEX artifact_job ON public.artifact USING btree (job_id);
CREATE INDEX artifact_sha256 ON public.artifact USING btree (sha256);
CREATE INDEX batch_created ON public.batch USING btree (created_at, id);
CREATE INDEX batch_finished ON public.batch USING btree (finished_state, created_at, id) WHERE (finished_at IS NOT NULL);
CREATE INDEX batch_finished_at ON public.batch USING btree (finished_at) WHERE (finished_at IS NOT NULL);
CREATE INDEX batch_labels ON public.batch USING gin (labels jsonb_path_ops);
CREATE INDEX batch_open ON public.batch USING btree (created_at, id) WHERE (finished_at IS NULL);
CREATE INDEX batch_turn_order ON public.batch_turn USING btree (kind, priority, last_claimed_at NULLS FIRST, created_at, batch_id);
CREATE INDEX event_line_batch ON public.event_line USING btree (batch_id, seq);
CREATE UNIQUE INDEX event_line_seq ON public.event_line USING btree (seq);
CREATE INDEX event_line_unnumbered ON public.event_line USING btree (xid, id) WHERE (seq IS NULL);
CREATE INDEX history_point_at ON public.history_point USING btree (at);
CREATE INDEX idempotency_key_created ON public.idempotency_key USING btree (created_at);
CREATE INDEX job_count_delta_batch ON public.job_count_delta USING btree (batch_id);
CREATE INDEX job_lease_token ON public.job USING btree (lease_token) WHERE (lease_token IS NOT NULL);
CREATE UNIQUE INDEX job_one_running_per_sequential_batch ON public.job USING btree (batch_id) WHERE ((state = 'running'::text) AND sequential);
CREATE INDEX job_open ON public.job USING btree (batch_id, priority, "position") WHERE (state = ANY (ARRAY['pending'::text, 'running'::text, 'retry'::text]));
CREATE INDEX job_running_batch ON public.job USING btree (batch_id) WHERE (state = 'running'::text);
CREATE INDEX job_unsuccessful ON public.job USING btree (id) WHERE (state = ANY (ARRAY['failed'::text, 'cancelled'::text]));
CREATE INDEX job_upstream_dependents ON public.job_upstream USING btree (upstream_id);
CREATE INDEX ledger_line_batch ON public.ledger_line USING btree (batch_id, seq);
CREATE INDEX ledger_line_occurred_at ON public.ledger_line USING btree (occurred_at);
CREATE UNIQUE INDEX ledger_line_seq ON public.ledger_line USING btree (seq);
CREATE INDEX ledger_line_unnumbered ON public.ledger_line USING btree (xid, id) WHERE (seq IS NULL);

create view job_counts as
SELECT batch_id,
    priority,
    kind,
    state,
    (sum(jobs))::bigint AS jobs
   FROM ( SELECT job_count.batch_id,
            job_count.priority,
            job_count.kind,
            job_count.state,
            job_count.jobs
           FROM job_count
        UNION ALL
         SELECT job_count_delta.batch_id,
            job_count_delta.priority,
            job_count_delta.kind,
            job_count_delta.state,
            job_count_delta.jobs
           FROM job_count_delta) c
  GROUP BY batch_id, priority, kind, state;

CREATE OR REPLACE FUNCTION public.batch_gates(backend text)
 RETURNS TABLE(id uuid, priority integer, last_claimed_at timestamp with time zone, created_at timestamp with time zone, first_priority integer, last_priority integer, first_position integer, last_position integer)
 LANGUAGE sql
 STABLE
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION public.batch_state(batch uuid, cancelled_at timestamp with time zone)
 RETURNS text
 LANGUAGE sql
 STABLE
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION public.batch_turn_on_job_insert()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
begin
    insert into batch_turn (batch_id, kind, priority, mode, created_at)
    select b.id, n.kind, b.priority, b.mode, b.created_at
    from (select distinct batch_id, kind from new_rows) n join batch b on b.id = n.batch_id
    where b.finished_at is null
    order by b.id, n.kind
    on conflict (batch_id, kind) do nothing;
    return null;
end
$function$;

CREATE OR REPLACE FUNCTION public.claim_jobs(p_now timestamp with time zone, p_kinds text[], p_slots integer[], p_loaded text[], p_executor text, p_live_secs double precision, p_look_past integer, p_affinity_wait_secs double precision, p_models text[], p_checkpoints text[], p_tokens uuid[], p_lease_secs double precision)
 RETURNS TABLE(id uuid, batch_id uuid, key text, priority integer, kind text, type text, model text, crew text, task text, spec text, timeout_ms bigint, attempt integer, lease_token uuid, lease_expires_at timestamp with time zone, backend_ref text, hand_backs_in_row integer, turn_in_claim bigint, batches_had_more boolean, candidates bigint)
 LANGUAGE plpgsql
 SET plan_cache_mode TO 'force_generic_plan'
AS $function$
#variable_conflict use_column
begin
    return query
        with recursive clock as materialized (select coalesce(p_now, now()) as now),
        wanted as materialized (select * from unnest(p_kinds, p_slots) as w(kind, slots)),
        -- per wanted kind, the batch priorities that have open batches with jobs of it (a skip scan of
        -- batch_turn_order, which leads with the kind)
        tier(kind, priority) as (
            select w.kind, (select t.priority from batch_turn t where t.kind = w.kind
                            order by t.priority limit 1)
            from wanted w
            union all
            select tier.kind, (select t.priority from batch_turn t
                               where t.kind = tier.kind and t.priority > tier.priority
                               order by t.priority limit 1)
            from tier where tier.priority is not null),
        -- how many open batches each has, counted up to the most slots wanted: a share needs no more
        crowd as materialized (
            select tier.kind, tier.priority,
                   (select count(*) from (select 1 from batch_turn t
                                          where t.kind = tier.kind and t.priority = tier.priority
                                          limit (select max(slots) from wanted)) n) as batches
            from tier where tier.priority is not null),
        -- models loaded on this executor's Ollama, as keys (ModelNames)
        loaded_here as materialized (select unnest(p_loaded) as model_key),
        -- models other executors hold now: running their jobs, or loaded on their Ollama at the last report
        held_elsewhere as materialized (
            select j.model_key from job j
            where j.state = 'running' and j.kind = 'ollama' and j.executor_id <> p_executor
            union
            select m.model_key from executor e
                 join executor_backend b on b.executor_id = e.id and b.kind = 'ollama'
                 cross join unnest(b.loaded_keys) as m(model_key), clock
            where e.id <> p_executor and e.last_seen_at >= clock.now - make_interval(secs => p_live_secs)),
        candidate as (
            select t.id, w.kind, served.batch_id, served.batch_priority, served.last_claimed_at, served.created_at,
                   t.turn, t.affinity, served.capped
            from wanted w
                 cross join lateral (
                     -- batches in claim order, each with its best claimable jobs of this kind; the nested loop
                     -- keeps that order, so the limit stops probing once enough batches have offered work
                     select g.id as batch_id, g.priority as batch_priority, g.last_claimed_at, g.created_at,
                            offered.ids, offered.ranks, cardinality(offered.ids) = g.share as capped
                     from (select gate.*,
                                  -- twice its part of the slots among the batches of its priority, and some
                                  -- spare past its slots: claimers woken together lock the same heads, and one
                                  -- that finds them locked takes the next in line (the turn keeps the order)
                                  least(w.slots, 2 * ((w.slots - 1) / (select c.batches from crowd c
                                                                       where c.kind = w.kind
                                                                         and c.priority = gate.priority) + 1)
                                                 + 8) + p_look_past as share
                           -- open batches in claim order, with the window their mode lets run now
                           -- (V12__flat_as_history_grows.sql; inlined, so the limit below stops the walk)
                           from batch_gates(w.kind) gate) g
                          cross join lateral (
                              select array_agg(best.id order by best.affinity, best.priority, best.position) as ids,
                                     array_agg(best.affinity order by best.affinity, best.priority, best.position)
                                         as ranks
                              from (select x.id, x.priority, x.position,
                                           case when x.model_key is null then 0
                                                when x.model_key in (select model_key from loaded_here) then 0
                                                when greatest(x.created_at, x.run_after)
                                                     <= clock.now - make_interval(secs => p_affinity_wait_secs) then 0
                                                when x.model_key in (select model_key from held_elsewhere)
                                                    then 2
                                                else 1 end as affinity
                                    from clock, (
                                        -- the window's head, and the head of each model loaded here
                                        select distinct j.id, j.priority, j.position, j.model_key, j.created_at, j.run_after
                                        from (select null::text as model_key, g.share + 8 as wanted
                                              union all
                                              select model_key, g.share from loaded_here where w.kind = 'ollama') src
                                             cross join lateral (
                                                 select j.id, j.priority, j.position, j.model_key, j.created_at,
                                                        j.run_after
                                                 from job j, clock
                                                 where j.batch_id = g.id
                                                   and j.priority between g.first_priority and g.last_priority
                                                   and j.position between g.first_position and g.last_position
                                                   and j.state in ('pending', 'retry')
                                                   and j.upstreams_left = 0
                                                   and j.run_after <= clock.now
                                                   and j.kind = w.kind
                                                   and (j.model_key is null or j.model_key = any (p_models))
                                                   and (src.model_key is null or j.model_key = src.model_key)
                                                   and not (j.avoid_executors @> array[p_executor])
                                                   and (j.checkpoints = '{}' or j.checkpoints <@ p_checkpoints)
                                                 order by j.priority, j.position
                                                 limit src.wanted) j) x
                                    order by affinity, x.priority, x.position
                                    limit g.share) best) offered
                     where offered.ids is not null
                     order by g.priority, g.last_claimed_at nulls first, g.created_at, g.id
                     limit w.slots + 8) served
                 cross join unnest(served.ids, served.ranks) with ordinality as t(id, affinity, turn)
        ),
        locked as materialized (
            select l.id, row_number() over () as turn_in_claim
            from wanted
                 cross join lateral (
                     -- candidates sorted first, so that only the job rows taken are visited and locked
                     select j.id
                     from (select c.id, c.batch_priority, c.affinity, c.turn, c.last_claimed_at, c.created_at,
                                  c.batch_id
                           from candidate c
                           where c.kind = wanted.kind
                             -- a batch that offered its whole share may have more: nothing less urgent goes
                             -- before it (the claim takes fewer jobs, and the next one more of that batch)
                             and c.batch_priority <= coalesce((select min(x.batch_priority) from candidate x
                                                               where x.kind = wanted.kind and x.capped),
                                                              c.batch_priority)
                           order by c.batch_priority, c.affinity, c.turn, c.last_claimed_at nulls first,
                                    c.created_at, c.batch_id) c
                          join job j on j.id = c.id
                          cross join clock
                     where j.state in ('pending', 'retry') and j.upstreams_left = 0 and j.run_after <= clock.now
                     order by c.batch_priority, c.affinity, c.turn, c.last_claimed_at nulls first, c.created_at,
                              c.batch_id
                     limit wanted.slots
                     for update of j skip locked) l
        ),
        claimed as (
            update job j
            set state = 'running', attempt = j.attempt + 1, lease_token = (p_tokens)[l.turn_in_claim],
                lease_expires_at = clock.now + make_interval(secs => p_lease_secs), executor_id = p_executor,
                started_at = coalesce(j.started_at, clock.now), waiting_reason = null, error = null
            from locked l, clock
            where j.id = l.id
            returning j.id, j.batch_id, j.key, j.priority, j.kind, j.type, j.model, j.crew, j.task, j.spec::text,
                      j.timeout_ms, j.attempt, j.lease_token, j.lease_expires_at, j.backend_ref,
                      j.hand_backs_in_row, l.turn_in_claim
        ),
        new_attempt as (
            insert into attempt (job_id, attempt, lease_token, executor_id, status, started_at)
            select c.id, c.attempt, c.lease_token, p_executor, 'running', clock.now from claimed c, clock
        ),
        fair_share as (
            update batch_turn t set last_claimed_at = clock.now
            from clock
            where (t.batch_id, t.kind) in (select s.batch_id, s.kind from batch_turn s
                                           where (s.batch_id, s.kind) in (select batch_id, kind from claimed)
                                           order by s.batch_id, s.kind for update skip locked)
        )
        -- in claim order (an UPDATE's RETURNING has none of its own): executors start jobs in this order. The turn
        -- comes back with each row: joining claimed to locked again compared every pair (100 x 100 per claim)
        -- and one row even when nothing was claimed, which says how many candidates this claim saw: some it did
        -- not get were locked or just taken by other claimers (ClaimLoop then looks again at once)
        select c.*, exists (select 1 from candidate x where x.capped) as batches_had_more,
               (select count(*) from candidate) as candidates
        from (values (1)) as one (x) left join claimed c on true
        order by c.turn_in_claim;
end
$function$;

CREATE OR REPLACE FUNCTION public.claimable_jobs(backend text)
 RETURNS bigint
 LANGUAGE sql
 STABLE
AS $function$
select count(*)
from batch_gates(backend) g
     join job j on j.batch_id = g.id
where j.priority between g.first_priority and g.last_priority
  and j.position between g.first_position and g.last_position
  and j.state in ('pending', 'retry')
  and j.upstreams_left = 0
  and j.run_after <= now()
  and j.kind = backend
$function$;

CREATE OR REPLACE FUNCTION public.event_line_json(l event_line, seq bigint)
 RETURNS text
 LANGUAGE sql
 STABLE PARALLEL SAFE
AS $function$
    select '{"seq":' || seq
        || ',"timestamp":"' || to_char(l.occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
        || '","task":{"crew":' || to_json(l.crew) || ',"task":' || to_json(l.task) || ',"priority":' || l.priority
        || '},"status":"' || l.status || '","elapsed_sec":' || to_json(l.elapsed_sec)
        || ',"result_preview":' || to_json(l.result_preview) || ',"attempt":' || coalesce(l.attempt::text, 'null')
        || ',"executor":' || to_json(l.executor_id) || ',"job_id":"' || l.job_id || '","batch_id":"' || l.batch_id
        || '"}'
$function$;

CREATE OR REPLACE FUNCTION public.events_on_attempt_closed()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION public.events_on_hand_back()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION public.job_check_transition()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
begin
    if not job_transition_allowed(old.state, new.state) then
        raise exception 'job %: illegal state transition % -> %', new.id, old.state, new.state
            using errcode = 'check_violation', constraint = 'job_state_transition';
    end if;
    return new;
end
$function$;

CREATE OR REPLACE FUNCTION public.job_count_on_delete()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
begin
    -- jobs deleted with their batch need no delta: the batch's job_count rows go with it (on delete cascade)
    insert into job_count_delta (batch_id, priority, kind, state, jobs)
    select o.batch_id, o.priority, o.kind, o.state, -count(*) from old_rows o
    where exists (select 1 from batch b where b.id = o.batch_id)
    group by o.batch_id, o.priority, o.kind, o.state;
    return null;
end
$function$;

CREATE OR REPLACE FUNCTION public.job_count_on_insert()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
begin
    insert into job_count_delta (batch_id, priority, kind, state, jobs)
    select batch_id, priority, kind, state, count(*) from new_rows group by batch_id, priority, kind, state;
    return null;
end
$function$;

CREATE OR REPLACE FUNCTION public.job_count_on_update()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION public.job_pipeline_on_update()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION public.job_total_apply(moves_priority integer[], moves_kind text[], moves_state text[], moves_jobs bigint[])
 RETURNS void
 LANGUAGE sql
AS $function$
insert into job_total as t (priority, kind, state, jobs)
select m.priority, m.kind, m.state, sum(m.jobs)
from unnest(moves_priority, moves_kind, moves_state, moves_jobs) as m(priority, kind, state, jobs)
group by m.priority, m.kind, m.state
having sum(m.jobs) <> 0
order by m.priority, m.kind, m.state
on conflict (priority, kind, state) do update set jobs = t.jobs + excluded.jobs
$function$;

CREATE OR REPLACE FUNCTION public.job_total_on_count_delete()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
begin
    perform job_total_apply(array_agg(priority), array_agg(kind), array_agg(state), array_agg(-jobs)) from old_rows;
    return null;
end
$function$;

CREATE OR REPLACE FUNCTION public.job_total_on_count_insert()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
begin
    perform job_total_apply(array_agg(priority), array_agg(kind), array_agg(state), array_agg(jobs)) from new_rows;
    return null;
end
$function$;

CREATE OR REPLACE FUNCTION public.job_total_on_count_update()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
begin
    perform job_total_apply(array_agg(priority), array_agg(kind), array_agg(state), array_agg(jobs))
    from (select priority, kind, state, jobs from new_rows
          union all
          select priority, kind, state, -jobs from old_rows) moves;
    return null;
end
$function$;

CREATE OR REPLACE FUNCTION public.job_transition_allowed(from_state text, to_state text)
 RETURNS boolean
 LANGUAGE sql
 IMMUTABLE
AS $function$
select (from_state, to_state) in (
    ('pending', 'running'), ('pending', 'cancelled'), ('pending', 'failed'),
    ('retry', 'running'), ('retry', 'cancelled'), ('retry', 'failed'),
    ('running', 'success'), ('running', 'failed'), ('running', 'retry'), ('running', 'cancelled'),
    ('running', 'pending'),                         -- hand-back: no attempt spent
    ('failed', 'pending'), ('cancelled', 'pending') -- retry by hand, fresh budget
)
$function$;

CREATE OR REPLACE FUNCTION public.ledger_line_json(l ledger_line, seq bigint)
 RETURNS text
 LANGUAGE sql
 STABLE PARALLEL SAFE
AS $function$
    select '{"seq":' || seq || ',"job_id":"' || l.job_id || '","batch_id":"' || l.batch_id
        || '","crew":' || to_json(l.crew) || ',"task":' || to_json(l.task) || ',"status":"' || l.status
        || '","details":' || to_json(l.details)
        || ',"timestamp":"' || to_char(l.occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
        || '","metadata":{"attempts":' || l.attempts || ',"key":' || to_json(l.key) || ',"priority":' || l.priority
        || ',"model":' || coalesce(to_json(l.model)::text, 'null') || ',"type":' || to_json(l.type)
        || case when coalesce(cardinality(l.after_keys), 0) = 0 then '' else ',"after":' || to_json(l.after_keys) end
        || '}}'
$function$;

CREATE OR REPLACE FUNCTION public.ledger_on_terminal()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION public.number_export_lines(max_lines integer)
 RETURNS bigint
 LANGUAGE plpgsql
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION public.ollama_model_key(name text)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$
select regexp_replace(
           regexp_replace(regexp_replace(lower(name), '^registry\.ollama\.ai/', ''), '^library/', ''),
           '^((.*/)?[^/:]*)$', '\1:latest')
$function$;

CREATE OR REPLACE FUNCTION public.result_summary(result jsonb)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE
AS $function$
select coalesce(result ->> 'text',
                (select string_agg(a ->> 'name', ', ')
                 from jsonb_array_elements(case when jsonb_typeof(result -> 'artifacts') = 'array'
                                                then result -> 'artifacts' else '[]' end) a))
$function$;

CREATE TRIGGER attempt_event_line AFTER UPDATE ON public.attempt REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION events_on_attempt_closed();
CREATE TRIGGER attempt_hand_back_event_line AFTER DELETE ON public.attempt REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION events_on_hand_back();
CREATE TRIGGER batch_turn_insert AFTER INSERT ON public.job REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION batch_turn_on_job_insert();
CREATE TRIGGER job_count_delete AFTER DELETE ON public.job REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION job_count_on_delete();
CREATE TRIGGER job_count_insert AFTER INSERT ON public.job REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION job_count_on_insert();
CREATE TRIGGER job_count_update AFTER UPDATE ON public.job REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION job_count_on_update();
CREATE TRIGGER job_ledger_line AFTER UPDATE ON public.job REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ledger_on_terminal();
CREATE TRIGGER job_pipeline AFTER UPDATE ON public.job REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION job_pipeline_on_update();
CREATE TRIGGER job_state_transition BEFORE UPDATE OF state ON public.job FOR EACH ROW WHEN ((old.state IS DISTINCT FROM new.state)) EXECUTE FUNCTION job_check_transition();
CREATE TRIGGER job_total_delete AFTER DELETE ON public.job_count REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION job_total_on_count_delete();
CREATE TRIGGER job_total_insert AFTER INSERT ON public.job_count REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION job_total_on_count_insert();
CREATE TRIGGER job_total_update AFTER UPDATE ON public.job_count REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION job_total_on_count_update();
