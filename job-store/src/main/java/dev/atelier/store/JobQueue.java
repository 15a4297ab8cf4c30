package dev.atelier.store;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import javax.sql.DataSource;

/**
 * The queue operations: the only SQL about jobs in the project (DESIGN.md, "Rules that every part must agree on").
 *
 * <p>Each operation runs in its own transaction and takes an optional {@code now}; null means the database clock,
 * so executors on different nodes never disagree and tests control time. Writes that finish attempts take many
 * jobs at once: executors batch them, because one job per transaction is bound by the WAL flush.
 *
 * <p>Export lines are written by triggers (V1__schema.sql), so no path to a terminal state can forget one.
 */
@ApplicationScoped
public class JobQueue {

    /** NOTIFY channel: new claimable work. The payload is the backend kind. */
    public static final String WORK_CHANNEL = "atelier_work";
    /** NOTIFY channel: a running job was asked to cancel. The payload is the job id. */
    public static final String CANCEL_CHANNEL = "atelier_cancel";

    private final DataSource dataSource;

    @Inject
    public JobQueue(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    // ---------------------------------------------------------------- intake

    /** The answer to an intake: the stored batch, or the earlier one with the same idempotency key. */
    public record Intake(UUID batchId, boolean created, String storedRequestHash) {
    }

    private static final String INSERT_BATCH = """
            insert into batch (id, name, mode, priority, labels, max_attempts, retry_delay_ms, retry_backoff,
                               job_count, submitted_by, idempotency_scope, idempotency_key, request_hash)
            values (?, ?, ?, ?, ?::jsonb, ?, ?, ?, ?, ?, ?, ?, ?)
            on conflict (idempotency_scope, idempotency_key) where idempotency_key is not null do nothing
            """;

    private static final String FIND_BY_IDEMPOTENCY_KEY = """
            select id, request_hash from batch where idempotency_scope = ? and idempotency_key = ?
            """;

    // One statement whatever the batch size: the jobs travel as arrays.
    private static final String INSERT_JOBS = """
            insert into job (id, batch_id, position, key, priority, sequential, kind, type, model, model_key, crew, task,
                             spec, timeout_ms, max_attempts, checkpoints)
            select j.id, ?, j.position - 1, j.key, j.priority, ?, split_part(j.type, '.', 1), j.type, j.model,
                   j.model_key, j.crew, j.task, j.spec::jsonb, j.timeout_ms, j.max_attempts,
                   -- the checkpoint files a workflow loads: only an executor with them all may claim it
                   case when j.type = 'comfyui.workflow' then array(
                       select distinct c from jsonb_array_elements_text(jsonb_path_query_array(j.spec::jsonb,
                           'strict $.workflow.* ? (exists(@.inputs.ckpt_name)).inputs.ckpt_name ? (@.type() == "string")')) as c)
                   else '{}' end
            from unnest(?::uuid[], ?::text[], ?::int[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[],
                        ?::text[], ?::bigint[], ?::int[]) with ordinality
                 as j(id, key, priority, type, model, model_key, crew, task, spec, timeout_ms, max_attempts, position)
            """;

    /**
     * Stores a batch and all its jobs in one transaction, then wakes the executors. With an idempotency key
     * already used in the same scope, nothing is stored and the earlier batch is answered.
     */
    public Intake insertBatch(NewBatch batch) {
        return Transactions.inTransaction(dataSource, "insert batch", c -> {
            String scope = batch.idempotencyKey() == null ? null : nullToEmpty(batch.submittedBy());
            try (PreparedStatement ps = c.prepareStatement(INSERT_BATCH)) {
                int i = 0;
                ps.setObject(++i, batch.id());
                ps.setString(++i, batch.name());
                ps.setString(++i, batch.mode().wire());
                ps.setInt(++i, batch.priority());
                ps.setString(++i, batch.labelsJson() == null ? "{}" : batch.labelsJson());
                ps.setInt(++i, batch.maxAttempts());
                ps.setLong(++i, batch.retryDelay().toMillis());
                ps.setDouble(++i, batch.retryBackoff());
                ps.setInt(++i, batch.jobs().size());
                ps.setString(++i, batch.submittedBy());
                ps.setString(++i, scope);
                ps.setString(++i, batch.idempotencyKey());
                ps.setString(++i, batch.requestHash());
                if (ps.executeUpdate() == 0) {
                    return earlierBatch(c, scope, batch.idempotencyKey());
                }
            }
            List<NewBatch.NewJob> jobs = batch.jobs();
            int n = jobs.size();
            UUID[] ids = new UUID[n];
            String[] keys = new String[n], types = new String[n], models = new String[n], modelKeys = new String[n],
                    crews = new String[n], tasks = new String[n], specs = new String[n];
            Integer[] priorities = new Integer[n], maxAttempts = new Integer[n];
            Long[] timeouts = new Long[n];
            for (int k = 0; k < n; k++) {
                NewBatch.NewJob job = jobs.get(k);
                ids[k] = job.id();
                keys[k] = job.key();
                priorities[k] = job.priority();
                types[k] = job.type();
                models[k] = job.model();
                modelKeys[k] = ModelNames.key(job.model());
                crews[k] = job.crew();
                tasks[k] = job.task();
                specs[k] = job.specJson();
                timeouts[k] = job.timeout().toMillis();
                maxAttempts[k] = job.maxAttempts() == null ? batch.maxAttempts() : job.maxAttempts();
            }
            try (PreparedStatement ps = c.prepareStatement(INSERT_JOBS)) {
                int i = 0;
                ps.setObject(++i, batch.id());
                ps.setBoolean(++i, batch.mode() == BatchMode.SEQUENTIAL);
                ps.setArray(++i, c.createArrayOf("uuid", ids));
                ps.setArray(++i, c.createArrayOf("text", keys));
                ps.setArray(++i, c.createArrayOf("int4", priorities));
                ps.setArray(++i, c.createArrayOf("text", types));
                ps.setArray(++i, c.createArrayOf("text", models));
                ps.setArray(++i, c.createArrayOf("text", modelKeys));
                ps.setArray(++i, c.createArrayOf("text", crews));
                ps.setArray(++i, c.createArrayOf("text", tasks));
                ps.setArray(++i, c.createArrayOf("text", specs));
                ps.setArray(++i, c.createArrayOf("int8", timeouts));
                ps.setArray(++i, c.createArrayOf("int4", maxAttempts));
                ps.executeUpdate();
            }
            notifyWork(c);
            return new Intake(batch.id(), true, batch.requestHash());
        });
    }

    private static Intake earlierBatch(Connection c, String scope, String key) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(FIND_BY_IDEMPOTENCY_KEY)) {
            ps.setString(1, scope);
            ps.setString(2, key);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    throw new IllegalStateException("idempotency key conflict but no batch holds it");
                }
                return new Intake(rs.getObject(1, UUID.class), false, rs.getString(2));
            }
        }
    }

    // ---------------------------------------------------------------- claim

    /*
     * The claim, in one statement (DESIGN.md, ordering):
     *  1-2. batch_gates() (V12__flat_as_history_grows.sql, shared with the autoscaler's claimable_jobs) reads the
     *     open batches (batch_turn) in claim order: batch priority, then the one served longest ago. For each it
     *     takes the head job (its lowest open priority and position) and drops sequential batches that already run
     *     a job: two tiny index probes per batch. From the head it derives the window of (priority, position) the
     *     mode lets run now: the head's group (priority), the head job (sequential), or everything from the head on
     *     (parallel), used as bounds on the fetch index. The function is inlined, so the walk is lazy: finished
     *     batches are never read, and open ones only until enough have offered work;
     *  3. candidate walks the batches in that order and looks, per
     *     wanted kind, at each batch's claimable jobs in that window. A batch's share is twice its part of the slots
     *     among the batches of its priority (other claimers lock the same heads; crowd counts them up to the
     *     slots, which is all the share needs), plus 8, at most the slots (a
     *     100-slot claim over 10 batches looks at 280 jobs, not 1,000); an executor with up to 10 slots always gets
     *     them all. It looks at the first share + 8 (job
     *     priority, then position), and the first share of each model loaded here. Each gets an affinity rank: 0
     *     when its model is loaded here, or it has waited past max-affinity-wait (the aging that keeps affinity from
     *     starving anyone), or it has no model; 1 when no executor holds its model; 2 when another executor holds it
     *     (it is left to that one, so executors spread the models instead of swapping). Each batch offers its best
     *     share by rank, then job priority and position, numbered by turn so equal batches take turns. It stops
     *     after slots + 8 batches have offered work: the claim's top rows can only come from the first batches that
     *     offer any, and the spare eight cover rows other claimers hold;
     *  4. locked sorts the candidates, per kind, by batch priority (a more urgent batch still goes first), affinity
     *     rank, turn, and the batch served longest ago, and locks as many as the executor has free slots, skipping
     *     rows other claimers hold (SKIP LOCKED: claimers never wait). A batch that offered its whole share may have
     *     more, so nothing less urgent than it is taken; JobQueue.claim runs another round for the slots left;
     *  5. the jobs become running, each under one of the lease tokens the claimer chose, each gets an attempt
     *     row, and the batches served are stamped for fair share in batch_turn (skipping a row another claimer is
     *     stamping).
     * A sequential batch offers only its head job, so SKIP LOCKED on that row is its gate; the partial unique
     * index job_one_running_per_sequential_batch backs it up. A priority group's gate needs no lock: a job that
     * is terminal stays terminal (except a retry by hand, which re-closes the gate only for jobs not started).
     * Affinity only orders what the gates let run; it never makes a job claimable.
     */
    private static final String CLAIM = """
            with recursive clock as materialized (select coalesce(?::timestamptz, now()) as now),
            wanted as materialized (select * from unnest(?::text[], ?::int[]) as w(kind, slots)),
            -- the batch priorities that have open batches (a skip scan of batch_turn_order's leading column)
            tier(priority) as (
                (select t.priority from batch_turn t order by t.priority limit 1)
                union all
                select (select t.priority from batch_turn t where t.priority > tier.priority order by t.priority limit 1)
                from tier where tier.priority is not null),
            -- how many open batches each has, counted up to the most slots wanted: a share needs no more
            crowd as materialized (
                select tier.priority,
                       (select count(*) from (select 1 from batch_turn t where t.priority = tier.priority
                                              limit (select max(slots) from wanted)) n) as batches
                from tier where tier.priority is not null),
            -- models loaded on this executor's Ollama, as keys (ollama_model_key)
            loaded_here as materialized (select unnest(?::text[]) as model_key),
            -- models other executors hold now: running their jobs, or loaded on their Ollama at the last report
            held_elsewhere as materialized (
                select j.model_key from job j
                where j.state = 'running' and j.kind = 'ollama' and j.executor_id <> ?
                union
                select ollama_model_key(m.name) from executor e
                     join executor_backend b on b.executor_id = e.id and b.kind = 'ollama'
                     cross join unnest(b.loaded_names) as m(name), clock
                where e.id <> ? and e.last_seen_at >= clock.now - make_interval(secs => ?)),
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
                                      -- twice its part of the slots among the batches of its priority (other
                                      -- claimers lock the same heads), and 8 spare
                                      least(w.slots, 2 * ((w.slots - 1) / (select c.batches from crowd c
                                                                           where c.priority = gate.priority) + 1)
                                                     + 8) as share
                               -- open batches in claim order, with the window their mode lets run now
                               -- (V12__flat_as_history_grows.sql; inlined, so the limit below stops the walk)
                               from batch_gates() gate) g
                              cross join lateral (
                                  select array_agg(best.id order by best.affinity, best.priority, best.position) as ids,
                                         array_agg(best.affinity order by best.affinity, best.priority, best.position)
                                             as ranks
                                  from (select x.id, x.priority, x.position,
                                               case when x.model_key is null then 0
                                                    when x.model_key in (select model_key from loaded_here) then 0
                                                    when greatest(x.created_at, x.run_after)
                                                         <= clock.now - make_interval(secs => ?) then 0
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
                                                       and j.run_after <= clock.now
                                                       and j.kind = w.kind
                                                       and (j.model_key is null or j.model_key = any (?::text[]))
                                                       and (src.model_key is null or j.model_key = src.model_key)
                                                       and not (j.avoid_executors @> array[?::text])
                                                       and (j.checkpoints = '{}' or j.checkpoints <@ ?::text[])
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
                         where j.state in ('pending', 'retry') and j.run_after <= clock.now
                         order by c.batch_priority, c.affinity, c.turn, c.last_claimed_at nulls first, c.created_at,
                                  c.batch_id
                         limit wanted.slots
                         for update of j skip locked) l
            ),
            claimed as (
                update job j
                set state = 'running', attempt = j.attempt + 1, lease_token = (?::uuid[])[l.turn_in_claim],
                    lease_expires_at = clock.now + make_interval(secs => ?), executor_id = ?,
                    started_at = coalesce(j.started_at, clock.now), waiting_reason = null, error = null
                from locked l, clock
                where j.id = l.id
                returning j.id, j.batch_id, j.key, j.priority, j.kind, j.type, j.model, j.crew, j.task, j.spec::text,
                          j.timeout_ms, j.attempt, j.lease_token, j.lease_expires_at, j.backend_ref,
                          j.hand_backs_in_row
            ),
            new_attempt as (
                insert into attempt (job_id, attempt, lease_token, executor_id, status, started_at)
                select c.id, c.attempt, c.lease_token, ?, 'running', clock.now from claimed c, clock
            ),
            fair_share as (
                update batch_turn t set last_claimed_at = clock.now
                from clock
                where t.batch_id in (select s.batch_id from batch_turn s
                                     where s.batch_id in (select batch_id from claimed)
                                     order by s.batch_id for update skip locked)
            )
            -- in claim order (an UPDATE's RETURNING has none of its own): executors start jobs in this order
            select c.*, exists (select 1 from candidate x where x.capped) as batches_had_more
            from claimed c join locked l on l.id = c.id
            order by l.turn_in_claim
            """;

    // Planning the claim took as long as running it (3 ms for 100 jobs): its plan is made once per connection and
    // kept (PostgreSQL makes it again when the job table's statistics change).
    private static final String KEEP_THE_PLAN = "set local plan_cache_mode = force_generic_plan";

    /**
     * What an executor can run now, for a claim.
     *
     * @param models          the Ollama models its backend has and will load (jobs without a model need none)
     * @param checkpoints     the checkpoint files its ComfyUI has: a workflow that loads others is not claimed
     * @param loaded          the models loaded on its Ollama now, which it prefers (model affinity)
     * @param maxAffinityWait a job of another model that has waited this long is claimed as if its model were
     *                        loaded; zero turns affinity off
     */
    public record Offer(Collection<String> models, Collection<String> checkpoints, Collection<String> loaded,
                        Duration maxAffinityWait) {

        /** Ollama models only, no affinity. */
        public static Offer models(Collection<String> models) {
            return new Offer(models, List.of(), List.of(), Duration.ZERO);
        }
    }

    /**
     * Claims jobs for an executor in one round trip.
     *
     * @param freeSlots how many jobs of each backend kind the executor can start now
     * @param models    the Ollama models its backend has; jobs without a model (ComfyUI) need none
     */
    public List<ClaimedJob> claim(String executorId, Map<String, Integer> freeSlots, Collection<String> models,
                                  Duration lease, Instant now) {
        return claim(executorId, freeSlots, Offer.models(models), newLeaseTokens(freeSlots), lease, now);
    }

    private static String[] modelKeys(Collection<String> names) {
        return names.stream().map(m -> ModelNames.key(StorableText.clean(m))).distinct().toArray(String[]::new);
    }

    /** Fresh lease tokens, one for each free slot: as many as a claim for these slots can use. */
    public static List<UUID> newLeaseTokens(Map<String, Integer> freeSlots) {
        int slots = freeSlots.values().stream().mapToInt(n -> n == null ? 0 : Math.max(0, n)).sum();
        List<UUID> tokens = new ArrayList<>(slots);
        for (int i = 0; i < slots; i++) {
            tokens.add(UUID.randomUUID());
        }
        return tokens;
    }

    /**
     * Claims with lease tokens the caller chose (at least one per free slot). If the connection breaks around the
     * commit, the caller cannot know whether the claim took any jobs; with the tokens it can find them, and hand
     * them back ({@link #handBackUnconfirmedClaim}) instead of leaving them to expire and spend an attempt.
     */
    public List<ClaimedJob> claim(String executorId, Map<String, Integer> freeSlots, Collection<String> models,
                                  List<UUID> leaseTokens, Duration lease, Instant now) {
        return claim(executorId, freeSlots, Offer.models(models), leaseTokens, lease, now);
    }

    /** Claims with lease tokens the caller chose, for what the executor offers (see {@link Offer}). */
    public List<ClaimedJob> claim(String executorId, Map<String, Integer> freeSlots, Offer offer,
                                  List<UUID> leaseTokens, Duration lease, Instant now) {
        Map<String, Integer> wanted = new LinkedHashMap<>();
        freeSlots.forEach((kind, slots) -> {
            if (slots != null && slots > 0) {
                wanted.put(kind, slots);
            }
        });
        if (wanted.isEmpty()) {
            return List.of();
        }
        int slots = wanted.values().stream().mapToInt(Integer::intValue).sum();
        if (leaseTokens.size() < slots) {
            throw new IllegalArgumentException(slots + " free slots need as many lease tokens, not " + leaseTokens.size());
        }
        return Transactions.inTransaction(dataSource, "claim", c -> {
            try (PreparedStatement plan = c.prepareStatement(KEEP_THE_PLAN)) {
                plan.execute();
            }
            // A batch offers at most its share of the slots; when one had more and the slots are not all taken (others
            // had less), another round in the same transaction takes the rest, each round at least one job.
            List<ClaimedJob> claimed = new ArrayList<>();
            Map<String, Integer> left = new LinkedHashMap<>(wanted);
            boolean more = true;
            while (more && !left.isEmpty()) {
                Round round = claimRound(c, executorId, left, offer,
                        leaseTokens.subList(claimed.size(), leaseTokens.size()), lease, now);
                claimed.addAll(round.jobs());
                round.jobs().forEach(job -> left.merge(job.kind(), -1, Integer::sum));
                left.values().removeIf(n -> n <= 0);
                more = round.batchesHadMore() && !round.jobs().isEmpty();
            }
            return claimed;
        });
    }

    /** One claim statement's jobs, and whether a batch offered its whole share (it may have more). */
    private record Round(List<ClaimedJob> jobs, boolean batchesHadMore) {
    }

    private static Round claimRound(Connection c, String executorId, Map<String, Integer> wanted, Offer offer,
                                    List<UUID> leaseTokens, Duration lease, Instant now) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(CLAIM)) {
            String[] kinds = wanted.keySet().toArray(String[]::new);
            int i = 0;
            setNow(ps, ++i, now);
            ps.setArray(++i, c.createArrayOf("text", kinds));
            ps.setArray(++i, c.createArrayOf("int4", wanted.values().toArray(Integer[]::new)));
            ps.setArray(++i, c.createArrayOf("text", modelKeys(offer.loaded())));
            ps.setString(++i, executorId);
            ps.setString(++i, executorId);
            ps.setDouble(++i, lease.multipliedBy(2).toMillis() / 1000.0); // executors reporting within are live
            // zero: every job counts as having waited long enough, which is affinity off
            ps.setDouble(++i, offer.maxAffinityWait().isZero() ? -1e9 : offer.maxAffinityWait().toMillis() / 1000.0);
            // compared as Ollama compares names; one PostgreSQL cannot store matches nothing and fails nothing
            ps.setArray(++i, c.createArrayOf("text", modelKeys(offer.models())));
            ps.setString(++i, executorId);
            ps.setArray(++i, c.createArrayOf("text", offer.checkpoints().stream().map(StorableText::clean)
                    .toArray(String[]::new)));
            ps.setArray(++i, c.createArrayOf("uuid", leaseTokens.toArray(UUID[]::new)));
            ps.setDouble(++i, lease.toMillis() / 1000.0);
            ps.setString(++i, executorId);
            ps.setString(++i, executorId);
            List<ClaimedJob> claimed = new ArrayList<>();
            boolean more = false;
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    claimed.add(new ClaimedJob(
                            rs.getObject("id", UUID.class), rs.getObject("batch_id", UUID.class),
                            rs.getString("key"), rs.getInt("priority"), rs.getString("kind"), rs.getString("type"),
                            rs.getString("model"), rs.getString("crew"), rs.getString("task"), rs.getString("spec"),
                            Duration.ofMillis(rs.getLong("timeout_ms")), rs.getInt("attempt"),
                            rs.getObject("lease_token", UUID.class), instant(rs, "lease_expires_at"),
                            rs.getString("backend_ref"), rs.getInt("hand_backs_in_row")));
                    more = rs.getBoolean("batches_had_more");
                }
            }
            return new Round(claimed, more);
        }
    }

    // ---------------------------------------------------------------- what a running attempt records

    private static final String RECORD_BACKEND_REF = """
            update job set backend_ref = ? where id = ? and lease_token = ? and state = 'running'
            """;

    private static final String RECORD_PROGRESS = """
            update job set progress = ? where id = ? and lease_token = ? and state = 'running'
              and progress is distinct from ?
            """;

    /**
     * Commits the backend's id for the run this attempt is about to start (ComfyUI's prompt_id), before it is
     * started, so a later attempt can adopt the run. Fenced by the lease token.
     *
     * @return false when the lease is no longer this attempt's: do not start the run
     */
    public boolean recordBackendRef(UUID jobId, UUID leaseToken, String backendRef) {
        return Transactions.inTransaction(dataSource, "record backend run", c -> {
            try (PreparedStatement ps = c.prepareStatement(RECORD_BACKEND_REF)) {
                ps.setString(1, backendRef);
                ps.setObject(2, jobId);
                ps.setObject(3, leaseToken);
                return ps.executeUpdate() == 1;
            }
        });
    }

    /** Records how far a running attempt is (0..1), fenced by its lease token; unchanged values write nothing. */
    public void recordProgress(UUID jobId, UUID leaseToken, double progress) {
        float value = (float) Math.max(0, Math.min(1, progress));
        Transactions.inTransaction(dataSource, "record progress", c -> {
            try (PreparedStatement ps = c.prepareStatement(RECORD_PROGRESS)) {
                ps.setFloat(1, value);
                ps.setObject(2, jobId);
                ps.setObject(3, leaseToken);
                ps.setFloat(4, value);
                return ps.executeUpdate();
            }
        });
    }

    // ---------------------------------------------------------------- heartbeat

    /**
     * What a heartbeat learned.
     *
     * @param extended        the leases renewed
     * @param lost            leases that are no longer this executor's (reaped, cancelled or finished elsewhere):
     *                        stop working on them, their outcome would be fenced off
     * @param cancelRequested held leases whose jobs a user asked to cancel
     */
    public record Heartbeat(Set<UUID> extended, Set<UUID> lost, Set<UUID> cancelRequested) {
    }

    // Locks in id order, as the statements that end attempts do ("held" in COMPLETE, FAIL, HAND_BACK): the
    // executor's completer records outcomes for some of these leases at the same time, and a plain update would lock in the lease-token index's
    // order and could deadlock with it. "No key update" is the lock a plain update takes: an artifact being added
    // (its foreign key's share lock) does not hold up a heartbeat.
    private static final String HEARTBEAT = """
            with clock as materialized (select coalesce(?::timestamptz, now()) as now),
            held as materialized (
                select j.id from job j
                where j.lease_token = any (?::uuid[]) and j.state = 'running'
                order by j.id
                for no key update of j)
            update job j
            set lease_expires_at = clock.now + make_interval(secs => ?)
            from held h, clock
            where j.id = h.id
            returning j.lease_token, j.cancel_requested_at is not null as cancel_requested
            """;

    /** Extends the leases held by these tokens, and returns the cancel requests for their jobs. */
    public Heartbeat heartbeat(Collection<UUID> leaseTokens, Duration lease, Instant now) {
        if (leaseTokens.isEmpty()) {
            return new Heartbeat(Set.of(), Set.of(), Set.of());
        }
        return Transactions.inTransaction(dataSource, "heartbeat", c -> {
            Set<UUID> extended = new HashSet<>();
            Set<UUID> cancel = new HashSet<>();
            try (PreparedStatement ps = c.prepareStatement(HEARTBEAT)) {
                setNow(ps, 1, now);
                ps.setArray(2, c.createArrayOf("uuid", leaseTokens.toArray(UUID[]::new)));
                ps.setDouble(3, lease.toMillis() / 1000.0);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        UUID token = rs.getObject(1, UUID.class);
                        extended.add(token);
                        if (rs.getBoolean(2)) {
                            cancel.add(token);
                        }
                    }
                }
            }
            Set<UUID> lost = new HashSet<>(leaseTokens);
            lost.removeAll(extended);
            return new Heartbeat(extended, lost, cancel);
        });
    }

    // ---------------------------------------------------------------- finishing attempts

    /*
     * Every statement that ends attempts first locks the rows it will change in id order, in its "held" step (the
     * reaper skips locked rows instead), and so does the heartbeat, so two of them never wait on each other in a cycle. Only rows still
     * held under the given lease token qualify: the fence. Outcomes are matched to jobs and attempts by job id and lease
     * token together, and only running attempts are closed: one batch may carry a stale and a current token for the
     * same job (reaped, then claimed again by the same executor), and the stale one must touch nothing. The export lines these statements write are numbered
     * later (V5__numbered_exports_and_lighter_writes.sql), so no writer waits for another's commit.
     */
    private static final String COMPLETE = """
            with clock as materialized (select coalesce(?::timestamptz, now()) as now),
            outcome as materialized (select * from unnest(?::uuid[], ?::uuid[], ?::text[]) as o(job_id, lease_token, result)),
            held as materialized (
                select j.id, j.lease_token from job j join outcome o on o.job_id = j.id and o.lease_token = j.lease_token
                where j.state = 'running'
                order by j.id
                for update of j),
            done as (
                update job j
                set state = 'success', result = o.result::jsonb, error = null, finished_at = clock.now,
                    attempts_used = j.attempts_used + 1, lease_token = null, lease_expires_at = null,
                    progress = null, waiting_reason = null, hand_backs_in_row = 0
                from held h, outcome o, clock
                where j.id = h.id and o.job_id = h.id and o.lease_token = h.lease_token
                returning j.id, h.lease_token
            )
            update attempt a set status = 'success', finished_at = clock.now
            from done d, clock
            where a.lease_token = d.lease_token and a.job_id = d.id and a.status = 'running'
            returning a.job_id
            """;

    /*
     * A spent attempt that failed: the job goes to retry with backoff while its budget lasts, else to failed. A
     * cancel request turns it into a cancellation instead (not spent): the user no longer wants a retry. The next
     * state is decided in "held", on the row as locked. The reaper (REAP) moves jobs the same way.
     */
    private static final String FAIL = """
            with clock as materialized (select coalesce(?::timestamptz, now()) as now),
            outcome as materialized (
                select * from unnest(?::uuid[], ?::uuid[], ?::text[], ?::boolean[]) as o(job_id, lease_token, error, retryable)),
            held as materialized (
                select j.id, j.lease_token, o.error,
                       case when j.cancel_requested_at is not null then 'cancelled'
                            when o.retryable and j.attempts_used + 1 < j.max_attempts then 'retry'
                            else 'failed' end as next_state
                from job j join outcome o on o.job_id = j.id and o.lease_token = j.lease_token
                where j.state = 'running'
                order by j.id
                for update of j),
            moved as (
                update job j
                set state = h.next_state,
                    attempts_used = j.attempts_used + case when h.next_state = 'cancelled' then 0 else 1 end,
                    run_after = case when h.next_state = 'retry'
                                     then clock.now + make_interval(secs => b.retry_delay_ms / 1000.0
                                          * power(b.retry_backoff, j.attempts_used) * (0.9 + random() * 0.2))
                                     else j.run_after end,
                    finished_at = case when h.next_state = 'retry' then null else clock.now end,
                    error = h.error, lease_token = null, lease_expires_at = null, progress = null,
                    hand_backs_in_row = 0
                from held h, clock, batch b
                where j.id = h.id and b.id = j.batch_id
                returning j.id, j.state, h.lease_token, h.error
            )
            update attempt a
            set status = case when m.state = 'cancelled' then 'cancelled' else 'failed' end,
                finished_at = clock.now, error = m.error
            from moved m, clock
            where a.lease_token = m.lease_token and a.job_id = m.id and a.status = 'running'
            returning a.job_id, m.state
            """;

    // Not spent, not shown: the attempt row goes (its event line says handed_back). A job whose cancel was
    // requested is closed instead. A hand-back's effect may add to the job's run of them, or keep the job off the
    // executor that held it (AttemptOutcome.HandBack.Effect).
    private static final String HAND_BACK = """
            with clock as materialized (select coalesce(?::timestamptz, now()) as now),
            outcome as materialized (
                select * from unnest(?::uuid[], ?::uuid[], ?::text[], ?::text[]) as o(job_id, lease_token, reason, effect)),
            held as materialized (
                select j.id, j.lease_token from job j join outcome o on o.job_id = j.id and o.lease_token = j.lease_token
                where j.state = 'running'
                order by j.id
                for update of j),
            back as (
                update job j
                set state = case when j.cancel_requested_at is null then 'pending' else 'cancelled' end,
                    attempt = j.attempt - case when j.cancel_requested_at is null then 1 else 0 end,
                    finished_at = case when j.cancel_requested_at is null then null else clock.now end,
                    waiting_reason = o.reason, lease_token = null, lease_expires_at = null, progress = null,
                    hand_backs_in_row = j.hand_backs_in_row + case when o.effect = 'count' then 1 else 0 end,
                    avoid_executors = case when o.effect = 'avoid_executor'
                                           then array_append(j.avoid_executors, j.executor_id) else j.avoid_executors end
                from held h, outcome o, clock
                where j.id = h.id and o.job_id = h.id and o.lease_token = h.lease_token
                returning j.id, j.state, h.lease_token
            ),
            not_spent as (
                delete from attempt a using back b
                where a.lease_token = b.lease_token and a.job_id = b.id and a.status = 'running' and b.state = 'pending'
            ),
            closed as (
                update attempt a set status = 'cancelled', finished_at = clock.now
                from back b, clock
                where a.lease_token = b.lease_token and a.job_id = b.id and a.status = 'running'
                  and b.state = 'cancelled'
            )
            select id, state from back
            """;

    // The same for the jobs held under some lease tokens, whatever they are (a claim whose commit went unconfirmed).
    private static final String HAND_BACK_BY_TOKEN = """
            with clock as materialized (select coalesce(?::timestamptz, now()) as now),
            outcome as materialized (
                select j.id as job_id, j.lease_token, ?::text as reason, 'none' as effect from job j
                where j.lease_token = any (?::uuid[]) and j.state = 'running'),
            held as materialized (
                select j.id, j.lease_token from job j join outcome o on o.job_id = j.id and o.lease_token = j.lease_token
                where j.state = 'running'
                order by j.id
                for update of j),
            back as (
                update job j
                set state = case when j.cancel_requested_at is null then 'pending' else 'cancelled' end,
                    attempt = j.attempt - case when j.cancel_requested_at is null then 1 else 0 end,
                    finished_at = case when j.cancel_requested_at is null then null else clock.now end,
                    waiting_reason = o.reason, lease_token = null, lease_expires_at = null, progress = null,
                    hand_backs_in_row = j.hand_backs_in_row + case when o.effect = 'count' then 1 else 0 end,
                    avoid_executors = case when o.effect = 'avoid_executor'
                                           then array_append(j.avoid_executors, j.executor_id) else j.avoid_executors end
                from held h, outcome o, clock
                where j.id = h.id and o.job_id = h.id and o.lease_token = h.lease_token
                returning j.id, j.state, h.lease_token
            ),
            not_spent as (
                delete from attempt a using back b
                where a.lease_token = b.lease_token and a.job_id = b.id and a.status = 'running' and b.state = 'pending'
            ),
            closed as (
                update attempt a set status = 'cancelled', finished_at = clock.now
                from back b, clock
                where a.lease_token = b.lease_token and a.job_id = b.id and a.status = 'running'
                  and b.state = 'cancelled'
            )
            select id, state from back
            """;

    /**
     * Records what happened to attempts an executor held, many at once. An outcome whose lease token is not the
     * job's current one (a stale or restarted worker) changes nothing. Successes, failures and hand-backs each
     * commit in a transaction of their own.
     *
     * @return the new state of each job whose outcome was accepted
     */
    public Map<UUID, JobState> finish(Collection<? extends AttemptOutcome> outcomes, Instant now) {
        List<AttemptOutcome.Success> successes = new ArrayList<>();
        List<AttemptOutcome.Failure> failures = new ArrayList<>();
        List<AttemptOutcome.HandBack> handBacks = new ArrayList<>();
        for (AttemptOutcome outcome : outcomes) {
            if (outcome instanceof AttemptOutcome.Success s) {
                successes.add(s);
            } else if (outcome instanceof AttemptOutcome.Failure f) {
                failures.add(f);
            } else if (outcome instanceof AttemptOutcome.HandBack h) {
                handBacks.add(h);
            }
        }
        // One transaction per statement: see the note above COMPLETE.
        Map<UUID, JobState> moved = new HashMap<>();
        if (!successes.isEmpty()) {
            moved.putAll(Transactions.inTransaction(dataSource, "complete", c -> {
                try (PreparedStatement ps = c.prepareStatement(COMPLETE)) {
                    setNow(ps, 1, now);
                    ps.setArray(2, c.createArrayOf("uuid", successes.stream().map(AttemptOutcome::jobId).toArray(UUID[]::new)));
                    ps.setArray(3, c.createArrayOf("uuid", successes.stream().map(AttemptOutcome::leaseToken).toArray(UUID[]::new)));
                    ps.setArray(4, c.createArrayOf("text", successes.stream().map(AttemptOutcome.Success::resultJson).toArray(String[]::new)));
                    Map<UUID, JobState> done = new HashMap<>();
                    for (UUID id : readIds(ps)) {
                        done.put(id, JobState.SUCCESS);
                    }
                    return done;
                }
            }));
        }
        if (!failures.isEmpty()) {
            moved.putAll(Transactions.inTransaction(dataSource, "fail", c -> {
                try (PreparedStatement ps = c.prepareStatement(FAIL)) {
                    setNow(ps, 1, now);
                    ps.setArray(2, c.createArrayOf("uuid", failures.stream().map(AttemptOutcome::jobId).toArray(UUID[]::new)));
                    ps.setArray(3, c.createArrayOf("uuid", failures.stream().map(AttemptOutcome::leaseToken).toArray(UUID[]::new)));
                    ps.setArray(4, c.createArrayOf("text", failures.stream().map(f -> StorableText.clean(f.error())).toArray(String[]::new)));
                    ps.setArray(5, c.createArrayOf("bool", failures.stream().map(AttemptOutcome.Failure::retryable).toArray(Boolean[]::new)));
                    return readStates(ps);
                }
            }));
        }
        if (!handBacks.isEmpty()) {
            moved.putAll(Transactions.inTransaction(dataSource, "hand back", c -> {
                try (PreparedStatement ps = c.prepareStatement(HAND_BACK)) {
                    setNow(ps, 1, now);
                    ps.setArray(2, c.createArrayOf("uuid", handBacks.stream().map(AttemptOutcome::jobId).toArray(UUID[]::new)));
                    ps.setArray(3, c.createArrayOf("uuid", handBacks.stream().map(AttemptOutcome::leaseToken).toArray(UUID[]::new)));
                    ps.setArray(4, c.createArrayOf("text", handBacks.stream().map(h -> StorableText.clean(h.reason())).toArray(String[]::new)));
                    ps.setArray(5, c.createArrayOf("text", handBacks.stream()
                            .map(h -> h.effect().wire()).toArray(String[]::new)));
                    return readHandedBack(c, ps);
                }
            }));
        }
        return moved;
    }

    /**
     * Hands back, without spending an attempt, the jobs a claim took under these lease tokens: for a claim whose
     * answer never came (the connection broke around its commit), so the claimer does not know whether it took any.
     * Tokens that took nothing, or whose attempt has already ended, change nothing.
     *
     * @return the new state of each job handed back
     */
    public Map<UUID, JobState> handBackUnconfirmedClaim(Collection<UUID> leaseTokens, String reason, Instant now) {
        if (leaseTokens.isEmpty()) {
            return Map.of();
        }
        return Transactions.inTransaction(dataSource, "hand back an unconfirmed claim", c -> {
            try (PreparedStatement ps = c.prepareStatement(HAND_BACK_BY_TOKEN)) {
                setNow(ps, 1, now);
                ps.setString(2, StorableText.clean(reason));
                ps.setArray(3, c.createArrayOf("uuid", leaseTokens.toArray(UUID[]::new)));
                return readHandedBack(c, ps);
            }
        });
    }

    /** Runs a hand-back and reads the jobs' new states; wakes the claimers when any went back to pending. */
    private static Map<UUID, JobState> readHandedBack(Connection c, PreparedStatement ps) throws SQLException {
        Map<UUID, JobState> back = readStates(ps);
        if (back.containsValue(JobState.PENDING)) {
            notifyWork(c);
        }
        return back;
    }

    private static final String CLOSE_CANCELLED = """
            with clock as materialized (select coalesce(?::timestamptz, now()) as now),
            held as materialized (
                select j.id, j.lease_token from job j
                where j.lease_token = any (?::uuid[]) and j.state = 'running' and j.cancel_requested_at is not null
                order by j.id
                for update of j),
            closed as (
                update job j
                set state = 'cancelled', finished_at = clock.now, lease_token = null, lease_expires_at = null,
                    progress = null, error = null
                from held h, clock
                where j.id = h.id
                returning j.id, h.lease_token
            )
            update attempt a set status = 'cancelled', finished_at = clock.now
            from closed c, clock
            where a.lease_token = c.lease_token and a.job_id = c.id and a.status = 'running'
            returning a.job_id
            """;

    /**
     * An executor aborted these attempts because their jobs were asked to cancel. Fenced like every outcome;
     * a job that finished first keeps its result.
     */
    public Set<UUID> closeCancelled(Collection<UUID> leaseTokens, Instant now) {
        if (leaseTokens.isEmpty()) {
            return Set.of();
        }
        return Transactions.inTransaction(dataSource, "close cancelled", c -> {
            try (PreparedStatement ps = c.prepareStatement(CLOSE_CANCELLED)) {
                setNow(ps, 1, now);
                ps.setArray(2, c.createArrayOf("uuid", leaseTokens.toArray(UUID[]::new)));
                return readIds(ps);
            }
        });
    }

    // ---------------------------------------------------------------- reaper

    // As FAIL, for the jobs whose lease expired (a retryable failure), skipping rows an outcome is being stored for.
    private static final String REAP = """
            with clock as materialized (select coalesce(?::timestamptz, now()) as now),
            held as materialized (
                select j.id, j.lease_token, 'lease expired on ' || j.executor_id as error,
                       case when j.cancel_requested_at is not null then 'cancelled'
                            when j.attempts_used + 1 < j.max_attempts then 'retry'
                            else 'failed' end as next_state
                from job j, clock
                where j.state = 'running' and j.lease_expires_at < clock.now
                order by j.lease_expires_at
                limit ?
                for update of j skip locked),
            moved as (
                update job j
                set state = h.next_state,
                    attempts_used = j.attempts_used + case when h.next_state = 'cancelled' then 0 else 1 end,
                    run_after = case when h.next_state = 'retry'
                                     then clock.now + make_interval(secs => b.retry_delay_ms / 1000.0
                                          * power(b.retry_backoff, j.attempts_used) * (0.9 + random() * 0.2))
                                     else j.run_after end,
                    finished_at = case when h.next_state = 'retry' then null else clock.now end,
                    error = h.error, lease_token = null, lease_expires_at = null, progress = null,
                    hand_backs_in_row = 0
                from held h, clock, batch b
                where j.id = h.id and b.id = j.batch_id
                returning j.id, j.state, h.lease_token, h.error
            )
            update attempt a
            set status = case when m.state = 'cancelled' then 'cancelled' else 'failed' end,
                finished_at = clock.now, error = m.error
            from moved m, clock
            where a.lease_token = m.lease_token and a.job_id = m.id and a.status = 'running'
            returning a.job_id, m.state
            """;

    /**
     * Takes back jobs whose lease expired (the executor died or hung): the attempt is spent, with the error
     * "lease expired on &lt;executor&gt;", and the job goes to retry or, out of attempts, to failed.
     *
     * @param limit at most this many jobs per call; call again while it returns a full page
     */
    public Map<UUID, JobState> reapExpired(int limit, Instant now) {
        return Transactions.inTransaction(dataSource, "reap", c -> {
            try (PreparedStatement ps = c.prepareStatement(REAP)) {
                setNow(ps, 1, now);
                ps.setInt(2, limit);
                return readStates(ps);
            }
        });
    }

    // ---------------------------------------------------------------- models nobody offers

    /*
     * DESIGN.md, models: an Ollama job whose model no live executor offers waits with a reason, and fails after the
     * grace period, counted from the latest of: the job being stored, it becoming claimable, and the oldest live
     * executor's start (so executors that just came up have published their models). Nothing fails while no
     * live executor can reach its Ollama (an outage makes jobs wait, DESIGN.md invariant 4). Rows are only written
     * when the reason or the state changes.
     */
    private static final String UNSERVABLE_MODELS = """
            with clock as materialized (select coalesce(?::timestamptz, now()) as now),
            live as materialized (
                select e.id, e.started_at from executor e, clock
                where e.last_seen_at >= clock.now - make_interval(secs => ?)),
            offered as materialized (
                select distinct m.model, ollama_model_key(m.model) as model_key from live l
                     join executor_backend b on b.executor_id = l.id and b.kind = 'ollama'
                     cross join unnest(b.models) as m(model)),
            facts as materialized (
                -- only executors that can reach their Ollama judge: an Ollama outage makes jobs wait, not fail
                select (select min(l.started_at) from live l
                        join executor_backend b on b.executor_id = l.id and b.kind = 'ollama' and b.status <> 'offline')
                           as first_live,
                       coalesce((select string_agg(distinct model, ', ' order by model) from offered), 'none') as available),
            unservable as materialized (
                select j.id,
                       greatest(j.created_at, j.run_after, f.first_live) <= clock.now - make_interval(secs => ?) as expired,
                       'no live executor offers model ''' || j.model || '''' as reason
                from job j, facts f, clock
                where j.state in ('pending', 'retry') and j.kind = 'ollama' and f.first_live is not null
                  and j.model_key not in (select model_key from offered)
                order by j.id
                for update of j skip locked)
            update job j
            set state = case when u.expired then 'failed' else j.state end,
                finished_at = case when u.expired then clock.now end,
                error = case when u.expired
                             then 'model ''' || j.model || ''' not found on any executor (available: ' || f.available || ')'
                             else j.error end,
                waiting_reason = case when u.expired then null else u.reason end
            from unservable u, facts f, clock
            where j.id = u.id and (u.expired or j.waiting_reason is distinct from u.reason)
            returning j.id, j.state
            """;

    /*
     * A model every live executor that has it refuses to load (REALITY.md, Ollama 6: "model requires more system
     * memory (X) than is available (Y)" repeats on every try on the same box): its waiting jobs fail at once with
     * the backend's own words. No grace: each executor refused after trying, and only a bigger box would do.
     */
    private static final String REFUSED_EVERYWHERE = """
            with clock as materialized (select coalesce(?::timestamptz, now()) as now),
            reachable as materialized (
                select b.executor_id, b.models, b.refused_models, b.refused_reasons
                from executor e join executor_backend b on b.executor_id = e.id and b.kind = 'ollama', clock
                where e.last_seen_at >= clock.now - make_interval(secs => ?) and b.status <> 'offline'),
            refusal as materialized (
                select ollama_model_key(r.model) as model_key, min(r.reason) as reason
                from reachable cross join unnest(reachable.refused_models, reachable.refused_reasons) as r(model, reason)
                group by 1),
            willing as materialized (
                select distinct ollama_model_key(m.model) as model_key
                from reachable cross join unnest(reachable.models) as m(model)
                where ollama_model_key(m.model) not in (select ollama_model_key(r) from unnest(reachable.refused_models) r)),
            refused as materialized (
                select j.id, f.reason from job j join refusal f on f.model_key = j.model_key
                where j.state in ('pending', 'retry') and j.kind = 'ollama'
                  and f.model_key not in (select model_key from willing)
                order by j.id
                for update of j skip locked)
            update job j
            set state = 'failed', finished_at = clock.now, waiting_reason = null,
                error = 'model ''' || j.model || ''' cannot be loaded on any live executor: ' || r.reason
            from refused r, clock
            where j.id = r.id
            returning j.id, j.state
            """;

    /*
     * The same rule for ComfyUI workflows and their checkpoint files: a workflow no live executor has every checkpoint
     * of waits, saying which it lacks, and fails after the grace. An executor's ComfyUI models are its checkpoints.
     */
    private static final String UNSERVABLE_CHECKPOINTS = """
            with clock as materialized (select coalesce(?::timestamptz, now()) as now),
            comfy as materialized (
                select e.started_at, b.models from executor e
                     join executor_backend b on b.executor_id = e.id and b.kind = 'comfyui' and b.status <> 'offline',
                     clock
                where e.last_seen_at >= clock.now - make_interval(secs => ?)),
            facts as materialized (
                select (select min(started_at) from comfy) as first_live,
                       coalesce((select string_agg(distinct m, ', ' order by m) from comfy cross join unnest(comfy.models) m),
                                'none') as available),
            unservable as materialized (
                select j.id,
                       greatest(j.created_at, j.run_after, f.first_live) <= clock.now - make_interval(secs => ?) as expired,
                       coalesce((select 'checkpoint ' || string_agg('''' || c || '''', ', ' order by c) from unnest(j.checkpoints) c
                                 where not exists (select 1 from comfy x where c = any (x.models))),
                                'all of the checkpoints ' || (select string_agg('''' || c || '''', ', ' order by c)
                                                              from unnest(j.checkpoints) c)) as lacking
                from job j, facts f, clock
                where j.state in ('pending', 'retry') and j.kind = 'comfyui' and j.checkpoints <> '{}'
                  and f.first_live is not null
                  and not exists (select 1 from comfy x where j.checkpoints <@ x.models)
                order by j.id
                for update of j skip locked)
            update job j
            set state = case when u.expired then 'failed' else j.state end,
                finished_at = case when u.expired then clock.now end,
                error = case when u.expired
                             then 'no executor has ' || u.lacking || ' (available: ' || f.available || ')'
                             else j.error end,
                waiting_reason = case when u.expired then null else 'no live executor has ' || u.lacking end
            from unservable u, facts f, clock
            where j.id = u.id and (u.expired or j.waiting_reason is distinct from 'no live executor has ' || u.lacking)
            returning j.id, j.state
            """;

    /*
     * A job every live executor of its kind (its backend reachable) keeps off, for lacking what it needs, fails at
     * once with the reason the last one handed it back for. No grace: each of them tried.
     */
    private static final String AVOIDED_EVERYWHERE = """
            with clock as materialized (select coalesce(?::timestamptz, now()) as now),
            able as materialized (
                select b.kind, e.id from executor e join executor_backend b on b.executor_id = e.id, clock
                where e.last_seen_at >= clock.now - make_interval(secs => ?) and b.status <> 'offline'
                  and coalesce((e.slots ->> b.kind)::int, 0) > 0),
            avoided as materialized (
                select j.id from job j
                where j.state in ('pending', 'retry') and j.avoid_executors <> '{}'
                  and exists (select 1 from able a where a.kind = j.kind)
                  and not exists (select 1 from able a where a.kind = j.kind and not (j.avoid_executors @> array[a.id]))
                order by j.id
                for update of j skip locked)
            update job j
            set state = 'failed', finished_at = clock.now, waiting_reason = null,
                error = 'no live executor can run it: ' || coalesce(j.waiting_reason, 'each one refused it')
            from avoided a, clock
            where j.id = a.id
            returning j.id, j.state
            """;

    /**
     * Marks Ollama jobs whose model no live executor offers as waiting for it, and fails those that waited longer
     * than {@code grace}; fails at once those whose model every live executor that has it refused to load. Safe to
     * run from every executor at once.
     *
     * @param liveWindow an executor is live when it reported within this window
     * @return the jobs that failed or got a new waiting reason, with their state
     */
    public Map<UUID, JobState> sweepUnservableModels(Duration grace, Duration liveWindow, Instant now) {
        return Transactions.inTransaction(dataSource, "sweep unservable models", c -> {
            Map<UUID, JobState> changed = new HashMap<>();
            // waiting, then failing after the grace: no live executor has what the job needs
            for (String sweep : List.of(UNSERVABLE_MODELS, UNSERVABLE_CHECKPOINTS)) {
                changed.putAll(sweep(c, sweep, now, liveWindow, grace));
            }
            // failing at once: every live executor that could tried, and refused
            for (String sweep : List.of(REFUSED_EVERYWHERE, AVOIDED_EVERYWHERE)) {
                changed.putAll(sweep(c, sweep, now, liveWindow, null));
            }
            return changed;
        });
    }

    /** Runs one sweep: its parameters are the time, the live window and, for those that have one, the grace. */
    private static Map<UUID, JobState> sweep(Connection c, String statement, Instant now, Duration liveWindow,
                                             Duration grace) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(statement)) {
            setNow(ps, 1, now);
            ps.setDouble(2, liveWindow.toMillis() / 1000.0);
            if (grace != null) {
                ps.setDouble(3, grace.toMillis() / 1000.0);
            }
            return readStates(ps);
        }
    }

    // ---------------------------------------------------------------- cancel and retry

    /** What a cancel did. {@code found} is false for an unknown id. */
    public record Cancel(boolean found, int cancelled, int cancelRequested) {
    }

    // Pending and retry jobs end at once; running ones are asked to stop (the executor holding the lease aborts).
    private static final String CANCEL_BATCH_JOBS = """
            with clock as materialized (select coalesce(?::timestamptz, now()) as now),
            target as materialized (
                select j.id from job j
                where j.batch_id = ? and j.state in ('pending', 'retry', 'running')
                order by j.id
                for update of j)
            update job j
            set state = case when j.state = 'running' then 'running' else 'cancelled' end,
                finished_at = case when j.state = 'running' then null else clock.now end,
                cancel_requested_at = case when j.state = 'running' then coalesce(j.cancel_requested_at, clock.now) end,
                waiting_reason = null
            from target t, clock
            where j.id = t.id
            returning j.id, j.state
            """;

    private static final String CANCEL_ONE_JOB = """
            with clock as materialized (select coalesce(?::timestamptz, now()) as now),
            target as materialized (
                select j.id from job j
                where j.id = ? and j.state in ('pending', 'retry', 'running')
                order by j.id
                for update of j)
            update job j
            set state = case when j.state = 'running' then 'running' else 'cancelled' end,
                finished_at = case when j.state = 'running' then null else clock.now end,
                cancel_requested_at = case when j.state = 'running' then coalesce(j.cancel_requested_at, clock.now) end,
                waiting_reason = null
            from target t, clock
            where j.id = t.id
            returning j.id, j.state
            """;

    private static final String NOTIFY_CANCEL = """
            select pg_notify(?, id::text) from unnest(?::uuid[]) as id
            """;

    // a batch that had already finished is cancelled from now on (API.md: a cancelled batch's state is cancelled)
    private static final String MARK_BATCH_CANCELLED = """
            update batch
            set cancelled_at = coalesce(cancelled_at, coalesce(?::timestamptz, now())),
                finished_state = case when finished_at is not null then 'cancelled' end
            where id = ?
            """;

    /** Cancels every open job of a batch. Idempotent. */
    public Cancel cancelBatch(UUID batchId, Instant now) {
        return Transactions.inTransaction(dataSource, "cancel batch", c -> {
            try (PreparedStatement ps = c.prepareStatement(MARK_BATCH_CANCELLED)) {
                setNow(ps, 1, now);
                ps.setObject(2, batchId);
                if (ps.executeUpdate() == 0) {
                    return new Cancel(false, 0, 0);
                }
            }
            return cancelJobs(c, CANCEL_BATCH_JOBS, batchId, now);
        });
    }

    /** Cancels one job: at once when it waits, at the backend when it runs. Idempotent. */
    public Cancel cancelJob(UUID jobId, Instant now) {
        return Transactions.inTransaction(dataSource, "cancel job", c -> {
            Cancel cancel = cancelJobs(c, CANCEL_ONE_JOB, jobId, now);
            return cancel.cancelled() + cancel.cancelRequested() > 0 ? cancel : new Cancel(jobExists(c, jobId), 0, 0);
        });
    }

    private static Cancel cancelJobs(Connection c, String statement, UUID id, Instant now) throws SQLException {
        int cancelled = 0;
        List<UUID> running = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement(statement)) {
            setNow(ps, 1, now);
            ps.setObject(2, id);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    if (JobState.fromWire(rs.getString(2)) == JobState.RUNNING) {
                        running.add(rs.getObject(1, UUID.class));
                    } else {
                        cancelled++;
                    }
                }
            }
        }
        if (!running.isEmpty()) {
            try (PreparedStatement ps = c.prepareStatement(NOTIFY_CANCEL)) {
                ps.setString(1, CANCEL_CHANNEL);
                ps.setArray(2, c.createArrayOf("uuid", running.toArray(UUID[]::new)));
                ps.execute();
            }
        }
        return new Cancel(true, cancelled, running.size());
    }

    /** What a retry by hand did. */
    public enum Retry { RETRIED, NOT_FOUND, NOT_RETRYABLE }

    // History is kept (attempt rows, the attempt number); the budget starts again. A finished batch opens again and
    // takes its turn (V12), at once: the compaction would only mend it a round later.
    private static final String RETRY_ONE_JOB = """
            with retried as (
                update job j
                set state = 'pending', attempts_used = 0, run_after = '-infinity', finished_at = null, error = null,
                    result = null, cancel_requested_at = null, waiting_reason = null, progress = null,
                    hand_backs_in_row = 0, avoid_executors = '{}'
                where j.id = ? and j.state in ('failed', 'cancelled')
                returning j.batch_id),
            reopened as (
                update batch b set finished_at = null, finished_state = null
                where b.id in (select batch_id from retried) and b.finished_at is not null
                returning b.id, b.priority, b.mode, b.created_at),
            turn as (
                insert into batch_turn (batch_id, priority, mode, created_at)
                select id, priority, mode, created_at from reopened
                on conflict (batch_id) do nothing)
            select count(*) from retried
            """;

    private static final String RETRY_BATCH_FAILED = """
            with retried as (
                update job j
                set state = 'pending', attempts_used = 0, run_after = '-infinity', finished_at = null, error = null,
                    result = null, cancel_requested_at = null, waiting_reason = null, progress = null,
                    hand_backs_in_row = 0, avoid_executors = '{}'
                where j.batch_id = ? and j.state = 'failed'
                returning j.batch_id),
            reopened as (
                update batch b set finished_at = null, finished_state = null
                where b.id in (select batch_id from retried) and b.finished_at is not null
                returning b.id, b.priority, b.mode, b.created_at),
            turn as (
                insert into batch_turn (batch_id, priority, mode, created_at)
                select id, priority, mode, created_at from reopened
                on conflict (batch_id) do nothing)
            select count(*) from retried
            """;

    /** Sends a failed or cancelled job back to pending with a fresh attempt budget. */
    public Retry retryJob(UUID jobId) {
        return Transactions.inTransaction(dataSource, "retry job", c -> {
            if (retryJobs(c, RETRY_ONE_JOB, jobId) > 0) {
                notifyWork(c);
                return Retry.RETRIED;
            }
            return jobExists(c, jobId) ? Retry.NOT_RETRYABLE : Retry.NOT_FOUND;
        });
    }

    /**
     * Sends every failed job of a batch back to pending with a fresh budget.
     *
     * @return how many, or -1 when there is no such batch
     */
    public int retryFailed(UUID batchId) {
        return Transactions.inTransaction(dataSource, "retry failed", c -> {
            int retried = retryJobs(c, RETRY_BATCH_FAILED, batchId);
            if (retried > 0) {
                notifyWork(c);
                return retried;
            }
            try (PreparedStatement ps = c.prepareStatement("select 1 from batch where id = ?")) {
                ps.setObject(1, batchId);
                try (ResultSet rs = ps.executeQuery()) {
                    return rs.next() ? 0 : -1;
                }
            }
        });
    }

    private static int retryJobs(Connection c, String statement, UUID id) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(statement)) {
            ps.setObject(1, id);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getInt(1);
            }
        }
    }

    // ---------------------------------------------------------------- helpers

    private static boolean jobExists(Connection c, UUID jobId) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("select 1 from job where id = ?")) {
            ps.setObject(1, jobId);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next();
            }
        }
    }

    /** Wakes idle executors when the transaction commits. */
    private static void notifyWork(Connection c) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("select pg_notify(?, '')")) {
            ps.setString(1, WORK_CHANNEL);
            ps.execute();
        }
    }

    private static void setNow(PreparedStatement ps, int index, Instant now) throws SQLException {
        Transactions.setTime(ps, index, now);
    }

    private static Instant instant(ResultSet rs, String column) throws SQLException {
        OffsetDateTime value = rs.getObject(column, OffsetDateTime.class);
        return value == null ? null : value.toInstant();
    }

    private static Map<UUID, JobState> readStates(PreparedStatement ps) throws SQLException {
        Map<UUID, JobState> states = new HashMap<>();
        try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                states.put(rs.getObject(1, UUID.class), JobState.fromWire(rs.getString(2)));
            }
        }
        return states;
    }

    private static Set<UUID> readIds(PreparedStatement ps) throws SQLException {
        Set<UUID> ids = new HashSet<>();
        try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                ids.add(rs.getObject(1, UUID.class));
            }
        }
        return ids;
    }

    private static String nullToEmpty(String value) {
        return value == null ? "" : value;
    }
}
