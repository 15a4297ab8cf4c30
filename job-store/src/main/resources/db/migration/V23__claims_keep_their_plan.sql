-- The claim (JobClaims) as a function, so that its plan is kept. Planning the statement cost 7 to 15 ms a claim,
-- two to four times what running it cost (pg_stat_statements with track_planning, the fleet bench): pgjdbc names a
-- statement only after five runs on one connection, and through a transaction-mode PgBouncer (prepareThreshold=0)
-- never, so most claims were planned afresh. PL/pgSQL keeps the plan of its RETURN QUERY for the life of the server
-- session, which PgBouncer's server connections outlive client transactions by; the SET clause makes that plan the
-- generic one, as "set local plan_cache_mode" did for the statement.
-- The statement is the one JobClaims described, its parameters named. Unqualified names that are also result
-- columns (kind, batch_id) mean the tables' columns (#variable_conflict use_column).
create function claim_jobs(p_now timestamptz, p_kinds text[], p_slots int[], p_loaded text[], p_executor text,
                           p_live_secs double precision, p_look_past int, p_affinity_wait_secs double precision,
                           p_models text[], p_checkpoints text[], p_tokens uuid[], p_lease_secs double precision)
    returns table (id uuid, batch_id uuid, key text, priority integer, kind text, type text, model text, crew text,
                   task text, spec text, timeout_ms bigint, attempt integer, lease_token uuid,
                   lease_expires_at timestamptz, backend_ref text, hand_backs_in_row integer, turn_in_claim bigint,
                   batches_had_more boolean, candidates bigint)
    language plpgsql volatile
    set plan_cache_mode = force_generic_plan
as $$
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
$$;
