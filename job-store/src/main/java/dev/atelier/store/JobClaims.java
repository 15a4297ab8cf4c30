package dev.atelier.store;

import static dev.atelier.store.Rows.*;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import javax.sql.DataSource;

/**
 * Claims jobs for an executor's claim loop: the ordering, gates, fair share and model affinity of DESIGN.md in one
 * statement, and the hand-back of a claim whose commit went unconfirmed.
 */
@ApplicationScoped
public class JobClaims {

    private final DataSource dataSource;

    @Inject
    public JobClaims(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    /*
     * The claim, in one statement (DESIGN.md, ordering), kept as the function claim_jobs in
     * V23__claims_keep_their_plan.sql: planning it cost two to four times what running it did, and a function's plan
     * is kept for the server session, also through a transaction-mode PgBouncer, where pgjdbc prepares nothing:
     *  1-2. batch_gates(kind) (V22__fair_share_per_kind.sql, shared with the autoscaler's claimable_jobs) reads
     *     the open batches with jobs of that kind (batch_turn) in that kind's claim order: batch priority, then the one served longest ago. For each it
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
     *     more, so nothing less urgent than it is taken; claim(...) runs another round for the slots left;
     *  5. the jobs become running, each under one of the lease tokens the claimer chose, each gets an attempt
     *     row, and the batches served are stamped for fair share in batch_turn, for the kind served only (skipping a row
     *     another claimer is stamping): an executor's Ollama claims never make a batch's ComfyUI jobs look served.
     * A job that waits for upstreams (pipelines, `after`) is skipped by its kept count, upstreams_left, read with
     * the row as the other filters are: no probe of its upstreams (V19__pipelines.sql keeps the count).
     * A sequential batch offers only its head job, so SKIP LOCKED on that row is its gate; the partial unique
     * index job_one_running_per_sequential_batch backs it up. A priority group's gate needs no lock: a job that
     * is terminal stays terminal (except a retry by hand, which re-closes the gate only for jobs not started).
     * Affinity only orders what the gates let run; it never makes a job claimable.
     */
    private static final String CLAIM = """
            select * from claim_jobs(?::timestamptz, ?::text[], ?::int[], ?::text[], ?, ?, ?, ?, ?::text[], ?::text[],
                                     ?::uuid[], ?)""";

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
        return take(executorId, freeSlots, offer, LOOK_PAST, leaseTokens, lease, now).jobs();
    }

    /** How many candidates past its slots a claim looks at in each batch, unless it was outrun before. */
    public static final int LOOK_PAST = 8;

    /**
     * What a claim took, and whether it was short while work was there: it took fewer jobs than it had slots although
     * it saw more candidates than it took (other claimers locked or took them first). Such a claimer looks again soon
     * rather than a poll later.
     *
     * @param kindsShort the kinds it took fewer jobs of than it had slots for: unless it was outrun, it saw no more
     *                   of them that this executor could take
     */
    public record Claim(List<ClaimedJob> jobs, boolean outrun, Set<String> kindsShort) {
    }

    /**
     * {@link #claim(String, Map, Offer, List, Duration, Instant)}, saying whether others outran it (see {@link Claim}).
     *
     * @param lookPast how many candidates past its slots it looks at in each batch ({@link #LOOK_PAST}); a claimer
     *                 outrun before looks further, past the heads the others are taking
     */
    public Claim take(String executorId, Map<String, Integer> freeSlots, Offer offer, int lookPast,
                      List<UUID> leaseTokens, Duration lease, Instant now) {
        Map<String, Integer> wanted = new LinkedHashMap<>();
        freeSlots.forEach((kind, slots) -> {
            if (slots != null && slots > 0) {
                wanted.put(kind, slots);
            }
        });
        if (wanted.isEmpty()) {
            return new Claim(List.of(), false, Set.of());
        }
        int slots = wanted.values().stream().mapToInt(Integer::intValue).sum();
        if (leaseTokens.size() < slots) {
            throw new IllegalArgumentException(slots + " free slots need as many lease tokens, not " + leaseTokens.size());
        }
        return Transactions.inTransaction(dataSource, "claim", c -> {
            // A batch offers at most its share of the slots; when one had more and the slots are not all taken (others
            // had less), another round in the same transaction takes the rest, each round at least one job.
            List<ClaimedJob> claimed = new ArrayList<>();
            Map<String, Integer> left = new LinkedHashMap<>(wanted);
            boolean more = true;
            boolean outrun = false;
            while (more && !left.isEmpty()) {
                Round round = claimRound(c, executorId, left, offer, lookPast,
                        leaseTokens.subList(claimed.size(), leaseTokens.size()), lease, now);
                claimed.addAll(round.jobs());
                round.jobs().forEach(job -> left.merge(job.kind(), -1, Integer::sum));
                left.values().removeIf(n -> n <= 0);
                more = round.batchesHadMore() && !round.jobs().isEmpty();
                outrun = !left.isEmpty() && round.candidates() > round.jobs().size();
            }
            return new Claim(claimed, outrun, Set.copyOf(left.keySet()));
        });
    }

    /** One claim statement's jobs, whether a batch offered its whole share (it may have more), and the candidates. */
    private record Round(List<ClaimedJob> jobs, boolean batchesHadMore, long candidates) {
    }

    private static Round claimRound(Connection c, String executorId, Map<String, Integer> wanted, Offer offer,
                                    int lookPast, List<UUID> leaseTokens, Duration lease, Instant now)
            throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(CLAIM)) {
            String[] kinds = wanted.keySet().toArray(String[]::new);
            int i = 0;
            setNow(ps, ++i, now);
            ps.setArray(++i, c.createArrayOf("text", kinds));
            ps.setArray(++i, c.createArrayOf("int4", wanted.values().toArray(Integer[]::new)));
            ps.setArray(++i, c.createArrayOf("text", modelKeys(offer.loaded())));
            ps.setString(++i, executorId);
            ps.setDouble(++i, lease.multipliedBy(2).toMillis() / 1000.0); // executors reporting within are live
            ps.setInt(++i, lookPast);
            // zero: every job counts as having waited long enough, which is affinity off
            ps.setDouble(++i, offer.maxAffinityWait().isZero() ? -1e9 : offer.maxAffinityWait().toMillis() / 1000.0);
            // compared as Ollama compares names; one PostgreSQL cannot store matches nothing and fails nothing
            ps.setArray(++i, c.createArrayOf("text", modelKeys(offer.models())));
            ps.setArray(++i, c.createArrayOf("text", offer.checkpoints().stream().map(StorableText::clean)
                    .toArray(String[]::new)));
            ps.setArray(++i, c.createArrayOf("uuid", leaseTokens.toArray(UUID[]::new)));
            ps.setDouble(++i, lease.toMillis() / 1000.0);
            List<ClaimedJob> claimed = new ArrayList<>();
            boolean more = false;
            long candidates = 0;
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    candidates = rs.getLong("candidates");
                    if (rs.getObject("id") == null) {
                        continue; // the one row of a claim that took nothing
                    }
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
            return new Round(claimed, more, candidates);
        }
    }

    // HAND_BACK (AttemptOutcomes) for the jobs held under some lease tokens, whatever they are (a claim whose
    // commit went unconfirmed).
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
}
