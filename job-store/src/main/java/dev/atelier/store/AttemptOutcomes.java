package dev.atelier.store;

import static dev.atelier.store.Rows.*;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import javax.sql.DataSource;

/**
 * What executors report of the attempts they hold: backend references and progress while they run, heartbeats
 * that renew leases, and the outcome that ends each attempt (success, failure, hand-back, cancellation), all
 * fenced by lease token. The one place that maps what a backend did to the job's next state is
 * {@link AttemptOutcome}; the statements here carry it out.
 */
@ApplicationScoped
public class AttemptOutcomes {

    private final DataSource dataSource;

    @Inject
    public AttemptOutcomes(DataSource dataSource) {
        this.dataSource = dataSource;
    }

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
     * same job (reaped, then claimed again by the same executor), and the stale one must touch nothing. "held" carries
     * what the outcome sets, and attempts are found by their key (job, attempt): the planner, which cannot count the
     * rows of an array, otherwise joins the outcomes to each job row in turn (100 x 100 comparisons per statement,
     * a fifth of a completion's time). The export lines these statements write are numbered
     * later (V5__numbered_exports_and_lighter_writes.sql), so no writer waits for another's commit.
     */
    private static final String COMPLETE = """
            with clock as materialized (select coalesce(?::timestamptz, now()) as now),
            outcome as materialized (select * from unnest(?::uuid[], ?::uuid[], ?::text[]) as o(job_id, lease_token, result)),
            held as materialized (
                select j.id, j.lease_token, o.result
                from job j join outcome o on o.job_id = j.id and o.lease_token = j.lease_token
                where j.state = 'running'
                order by j.id
                for update of j),
            done as (
                update job j
                set state = 'success', result = h.result::jsonb, error = null, finished_at = clock.now,
                    attempts_used = j.attempts_used + 1, lease_token = null, lease_expires_at = null,
                    progress = null, waiting_reason = null, hand_backs_in_row = 0
                from held h, clock
                where j.id = h.id
                -- the batch's mode per row returned, by its key: the update's FROM, and so its plan, stay as they were
                returning j.id, j.attempt, h.lease_token, j.has_dependents, j.executor_id,
                          (select b.mode <> 'parallel' from batch b where b.id = j.batch_id) as gated_batch
            )
            update attempt a set status = 'success', finished_at = clock.now
            from done d, clock
            where a.job_id = d.id and a.attempt = d.attempt and a.lease_token = d.lease_token and a.status = 'running'
            returning a.job_id, d.has_dependents, d.executor_id, d.gated_batch
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
                returning j.id, j.attempt, j.state, h.lease_token, h.error
            )
            update attempt a
            set status = case when m.state = 'cancelled' then 'cancelled' else 'failed' end,
                finished_at = clock.now, error = m.error
            from moved m, clock
            where a.job_id = m.id and a.attempt = m.attempt and a.lease_token = m.lease_token and a.status = 'running'
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

    /**
     * What storing outcomes did.
     *
     * @param moved              the new state of each job whose outcome was accepted
     * @param mayHaveOpenedWork  whether a job may have become claimable by it: a success that had dependents or ended
     *                           a job of a priority or sequential batch (a gate), or any failure or hand-back. A
     *                           success in a parallel batch that no job waits for opens nothing, so the executor
     *                           need not look for work after it.
     */
    public record Stored(Map<UUID, JobState> moved, boolean mayHaveOpenedWork) {
    }

    /**
     * Records what happened to attempts an executor held, many at once. An outcome whose lease token is not the
     * job's current one (a stale or restarted worker) changes nothing. Successes, failures and hand-backs each
     * commit in a transaction of their own. The dependents a success makes ready are announced on
     * {@link QueueSignals#WORK_CHANNEL} with the completing executor's id, since it looks for work itself at once.
     */
    public Stored finish(Collection<? extends AttemptOutcome> outcomes, Instant now) {
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
        boolean[] opened = {false};
        if (!successes.isEmpty()) {
            moved.putAll(Transactions.inTransaction(dataSource, "complete", c -> {
                try (PreparedStatement ps = c.prepareStatement(COMPLETE)) {
                    setNow(ps, 1, now);
                    ps.setArray(2, c.createArrayOf("uuid", successes.stream().map(AttemptOutcome::jobId).toArray(UUID[]::new)));
                    ps.setArray(3, c.createArrayOf("uuid", successes.stream().map(AttemptOutcome::leaseToken).toArray(UUID[]::new)));
                    ps.setArray(4, c.createArrayOf("text", successes.stream().map(AttemptOutcome.Success::resultJson).toArray(String[]::new)));
                    Map<UUID, JobState> done = new HashMap<>();
                    List<UUID> upstreams = new ArrayList<>(); // only these can have made a dependent ready
                    Set<String> executors = new HashSet<>();
                    try (ResultSet rs = ps.executeQuery()) {
                        while (rs.next()) {
                            UUID id = rs.getObject(1, UUID.class);
                            done.put(id, JobState.SUCCESS);
                            if (rs.getBoolean(2)) {
                                upstreams.add(id);
                                executors.add(rs.getString(3));
                            }
                            opened[0] |= rs.getBoolean(2) || rs.getBoolean(4);
                        }
                    }
                    // one completing executor (its completer's batch) is named; otherwise every executor looks
                    Pipelines.afterSuccess(c, upstreams, executors.size() == 1
                            ? QueueSignals.workPayload(executors.iterator().next()) : "", now);
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
        opened[0] |= !failures.isEmpty() || !handBacks.isEmpty();
        return new Stored(moved, opened[0]);
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
}
