package dev.atelier.executor.service;

import dev.atelier.store.ClaimedJob;
import dev.atelier.store.JobClaims;
import dev.atelier.store.QueueSignals;
import dev.atelier.store.StoreException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import javax.sql.DataSource;
import org.jboss.logging.Logger;

/**
 * Takes work: wakes on NOTIFY (a listener thread), on a freed slot or a backend back, and otherwise polls with
 * jitter; the completer runs a round itself once it has stored outcomes ({@link #claimNow}). Its guarantees: it
 * claims no more jobs than there are free slots, only for backends that can take them now, and never after it was
 * stopped; and a claim whose answer was lost is not lost with it. The lease tokens are
 * chosen here, so when the connection breaks around a claim's commit, the tokens are kept (the heartbeat renews
 * them like held leases) and whatever jobs they took are handed back, unspent, as soon as the database answers.
 */
public final class ClaimLoop {

    private static final Logger LOG = Logger.getLogger(ClaimLoop.class);
    static final String UNCONFIRMED = "handed back: the database connection broke before the claim was confirmed";

    /**
     * @param poll            how long the loop waits for a wake-up before it looks anyway (±25 % jitter)
     * @param maxAffinityWait model affinity's bound; zero turns affinity off
     */
    public record Settings(Duration lease, Duration poll, Duration maxAffinityWait) {
    }

    /** Told after each claim statement that answered (metrics, the fleet bench). */
    public interface Listener {
        /**
         * @param took   the claim's time, from sending it to its answer
         * @param sought how many jobs it asked for (the free slots)
         * @param got    how many it took
         * @param outrun whether it came back short while it saw claimable jobs that other claimers took first
         */
        void claimed(Duration took, int sought, int got, boolean outrun);
    }

    private final JobClaims store;
    private final DataSource signalSource;
    private final RunningJobs running;
    private final Backends backends;
    private final Settings settings;
    private final Clock clock;
    private final Runnable cancelRequested;
    private final Listener listener;
    /** Tokens of claims whose answer never came, with when each claim was sent. */
    private final Map<UUID, Instant> unconfirmed = new ConcurrentHashMap<>();
    /**
     * A claim that came back short while it saw work others took first looks again after a random pause, rather than
     * a poll later: executors woken together go for the same head jobs, and most lose the race. The pause is drawn up
     * to 10 ms, then up to twice as long each time it is outrun again (so a crowd spreads out rather than storming the
     * database), and after {@link #OUTRUN_RETRIES} in a row it waits a poll, so a claim that keeps seeing work it
     * cannot get cannot spin.
     */
    static final Duration OUTRUN_PAUSE = Duration.ofMillis(10);
    static final int OUTRUN_RETRIES = 8;

    /** How often a LISTEN that keeps failing is warned about; it only costs wake-ups (polls still find the work). */
    static final Duration LISTEN_WARNING_EVERY = Duration.ofMinutes(5);

    private final Semaphore wakeUps = new Semaphore(0);
    /** One round at a time, on the loop's thread or the completer's ({@link #claimNow}). */
    private final ReentrantLock round = new ReentrantLock();
    /** Claims in a row that were outrun ({@link JobClaims.Claim#outrun()}); written only under the round lock. */
    private volatile int outrunInARow;
    /**
     * The kinds for which the last round finished and saw no more claimable work than it took (it came back short for
     * that kind, not outrun). A slot freed of such a kind has nothing to take: the wake that matters comes after the
     * ended job's outcome is stored (it may open a gate), and a claim sent meanwhile would only compete with that
     * store for the database. Per kind: an executor with idle ComfyUI slots and no workflows queued still has Ollama
     * work when its Ollama slots free up (one flag for both kinds once left it polling for its next Ollama job).
     */
    private volatile Set<String> kindsLookedEmpty = Set.of();
    private volatile boolean claiming = true;
    private volatile Instant stoppedAt;
    private volatile Instant lastRound;
    private Thread claimThread;
    private Thread listenThread;
    /** The listen thread's: whether its LISTEN connection is open, failed attempts in a row, the last warning. */
    private volatile boolean listening;
    private volatile int listenFailures;
    private Instant listenWarnedAt;

    /**
     * @param signalSource    where to LISTEN (one connection, held while listening)
     * @param cancelRequested called when a NOTIFY says a running job was asked to cancel (the heartbeat's answer
     *                        names which)
     * @param listener        told how each claim went
     */
    public ClaimLoop(JobClaims store, DataSource signalSource, RunningJobs running, Backends backends,
                     Settings settings, Clock clock, Runnable cancelRequested, Listener listener) {
        this.store = store;
        this.signalSource = signalSource;
        this.running = running;
        this.backends = backends;
        this.settings = settings;
        this.clock = clock;
        this.cancelRequested = cancelRequested;
        this.listener = listener;
        this.lastRound = clock.instant();
    }

    public void start() {
        claimThread = Threads.daemon("atelier-claim").newThread(this::claimLoop);
        listenThread = Threads.daemon("atelier-listen").newThread(this::listenLoop);
        claimThread.start();
        listenThread.start();
    }

    /** Wakes the loop: new work, a freed slot, a backend back online. */
    public void wake() {
        wakeUps.release();
    }

    /**
     * A slot was freed: wakes the loop unless the last round saw the queue empty. New work wakes it by NOTIFY, and a
     * job's end by the completer once its outcome is stored, so skipping this wake costs no job any time.
     */
    public void slotFreed() {
        if (mayFindWork()) {
            wake();
        }
    }

    /**
     * The completer stored outcomes: a round now ({@link #claimNow}) if they may have opened work, or if the last
     * round left work for the slots they freed. Otherwise there is nothing to take: a success in a parallel batch
     * that no job waits for opens nothing, and new work wakes the loop by NOTIFY (the empty round this skips cost as
     * much database time as a claim that takes a job).
     */
    public void outcomesStored(boolean mayHaveOpenedWork) {
        if (mayHaveOpenedWork || mayFindWork()) {
            claimNow();
        }
    }

    /** Whether a round now may take a job: some kind has a free slot and its queue did not look empty last round. */
    private boolean mayFindWork() {
        Set<String> empty = kindsLookedEmpty;
        return running.free().entrySet().stream().anyMatch(e -> e.getValue() > 0 && !empty.contains(e.getKey()));
    }

    /**
     * Runs a round on the caller's thread, unless one is running (then the loop goes round again after it). The
     * completer calls it right after storing outcomes, which may have opened a gate: waking the loop's thread instead
     * costs a thread hop on the way from one job's end to the next one's start, and on a loaded machine that hop
     * waits for a core (the pipelines bench: step 2's start p99, median of 6 alternating runs, 32 -> 25 ms). A failure
     * leaves the round to the loop, which logs it and tries again.
     */
    public void claimNow() {
        if (!round.tryLock()) {
            wake();
            return;
        }
        try {
            runOnce();
        } catch (RuntimeException e) {
            LOG.debugf("a round after storing outcomes failed, left to the loop: %s", e.getMessage());
            wake();
        } finally {
            round.unlock();
        }
    }

    /** Whether the loop was woken since this was last asked; tests ask, since they drive the rounds themselves. */
    boolean takeWakeUp() {
        boolean woken = wakeUps.tryAcquire();
        wakeUps.drainPermits();
        return woken;
    }

    /**
     * One round: hands back what unconfirmed claims took, then claims for every free slot of a backend that can take
     * work, and starts the jobs.
     *
     * @return how many jobs it started
     * @throws StoreException when the database is away (an unconfirmed claim's tokens are kept)
     */
    public int runOnce() {
        round.lock();
        try {
            return round();
        } finally {
            round.unlock();
        }
    }

    private int round() {
        lastRound = clock.instant();
        kindsLookedEmpty = Set.of(); // a slot freed while this round runs wakes the next one
        if (!claiming) {
            return 0;
        }
        handBackUnconfirmed();
        Instant now = clock.instant();
        Map<String, Integer> free = new LinkedHashMap<>();
        running.free().forEach((kind, open) -> {
            if (open > 0 && backends.state(kind).snapshot().claimable(now)) {
                free.put(kind, open);
            }
        });
        if (free.isEmpty()) {
            return 0;
        }
        Set<String> loaded = loadedHere();
        boolean oneFirst = !settings.maxAffinityWait().isZero() && loaded.isEmpty() && free.getOrDefault("ollama", 0) > 1;
        if (oneFirst) {
            // nothing loaded: one job picks the model, and the next round fills the other slots preferring it, rather
            // than one round taking jobs of several models, which the GPU would then swap between
            free.put("ollama", 1);
        }
        List<UUID> tokens = JobClaims.newLeaseTokens(free);
        JobClaims.Claim claim;
        long sent = System.nanoTime();
        try {
            // Ollama jobs only for models it has and will load, those loaded first; workflows only if its ComfyUI has
            // their checkpoints
            claim = store.take(backends.executorId(), free, new JobClaims.Offer(
                    backends.state("ollama").claimableModels(now), backends.state("comfyui").snapshot().models(),
                    loaded, settings.maxAffinityWait()), lookPast(), tokens, settings.lease(), null);
        } catch (StoreException e) {
            tokens.forEach(token -> unconfirmed.put(token, now));
            throw e;
        }
        Duration took = Duration.ofNanos(System.nanoTime() - sent);
        List<ClaimedJob> jobs = claim.jobs();
        outrunInARow = claim.outrun() ? outrunInARow + 1 : 0;
        kindsLookedEmpty = claim.outrun() ? Set.of() : claim.kindsShort();
        jobs.forEach(job -> running.start(job, now));
        // told once the jobs run: a listener that throws must not leave claimed jobs unstarted until their lease ends
        listener.claimed(took, tokens.size(), jobs.size(), claim.outrun());
        if (oneFirst && !jobs.isEmpty()) {
            wake();
        }
        return jobs.size();
    }

    /** How long the loop waits for a wake-up after this round: a poll (±25 %), or a short pause after it was outrun. */
    Duration nextWait() {
        ThreadLocalRandom random = ThreadLocalRandom.current();
        if (outrunInARow > 0 && outrunInARow <= OUTRUN_RETRIES) {
            return Duration.ofMillis(random.nextLong(1, (OUTRUN_PAUSE.toMillis() << (outrunInARow - 1)) + 1));
        }
        return Duration.ofMillis((long) (settings.poll().toMillis() * (0.75 + random.nextDouble() * 0.5)));
    }

    /** Past the heads, as far as it was outrun in a row: 8, then 16, 32, … up to 256 jobs of each batch. */
    private int lookPast() {
        return JobClaims.LOOK_PAST << Math.min(outrunInARow, 5);
    }

    /**
     * The models its Ollama holds now, as far as this executor knows: loaded at the last health check
     * ({@code /api/ps}), and those of the jobs it runs or ran last, which the next check will show.
     */
    private Set<String> loadedHere() {
        Set<String> loaded = new HashSet<>(running.recentModels());
        backends.state("ollama").snapshot().loaded().forEach(m -> loaded.add(m.name()));
        return loaded;
    }

    /**
     * Hands back what failed claims took, if anything. Throws while the database is away; the tokens are kept.
     *
     * @return how many jobs were handed back
     */
    public int handBackUnconfirmed() {
        if (unconfirmed.isEmpty()) {
            return 0;
        }
        Map<UUID, Instant> tokens = Map.copyOf(unconfirmed);
        int back = store.handBackUnconfirmedClaim(tokens.keySet(), UNCONFIRMED, null).size();
        tokens.forEach(unconfirmed::remove);
        if (back > 0) {
            LOG.infof("handed back %d jobs of a claim whose answer was lost", back);
        }
        return back;
    }

    /** The tokens of failed claims not yet settled, with when each claim was sent: leases it may hold unknowingly. */
    public Map<UUID, Instant> unconfirmed() {
        return Map.copyOf(unconfirmed);
    }

    /** Stops claiming; a round in flight still starts the jobs it claimed before this returns. */
    public void stop() throws InterruptedException {
        if (claiming) {
            stoppedAt = clock.instant();
        }
        claiming = false;
        wake();
        if (listenThread != null) {
            listenThread.interrupt();
        }
        if (claimThread != null) {
            claimThread.join(10_000);
        }
        // a round the completer runs ({@link #claimNow}) is in flight too: its jobs start before this returns
        if (round.tryLock(10, TimeUnit.SECONDS)) {
            round.unlock();
        }
    }

    /** When claiming stopped for good (a drain, or the stop), or null while it claims. */
    public Instant stoppedAt() {
        return stoppedAt;
    }

    /** Whether it LISTENs for new work now (a wake-up within milliseconds), rather than finding it by polling only. */
    public boolean listening() {
        return listening && listenThread != null && listenThread.isAlive();
    }

    /** LISTEN attempts that failed in a row (0 while listening). */
    public int listenFailures() {
        return listenFailures;
    }

    public boolean claiming() {
        return claiming && claimThread != null && claimThread.isAlive();
    }

    /** Whether the loop is alive: its thread runs and went round recently (it never waits longer than a poll). */
    public boolean alive() {
        Duration sinceRound = Duration.between(lastRound, clock.instant());
        return claimThread != null && claimThread.isAlive()
                && sinceRound.compareTo(settings.poll().multipliedBy(3).plusSeconds(30)) < 0;
    }

    private void claimLoop() {
        while (claiming) {
            try {
                runOnce();
                if (wakeUps.tryAcquire(nextWait().toMillis(), TimeUnit.MILLISECONDS)) {
                    wakeUps.drainPermits();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (StoreException e) {
                LOG.warnf("claim failed, polling again: %s", e.getMessage());
                Threads.pause(settings.poll());
            } catch (RuntimeException e) {
                LOG.errorf(e, "claim loop error");
                Threads.pause(settings.poll());
            }
        }
    }

    /**
     * A wrong {@code atelier.executor.listen-url}, or a pooler in front of LISTEN, fails every attempt: warned at the
     * first failure and then every {@link #LISTEN_WARNING_EVERY}, with the count, rather than once per poll or never.
     */
    private void listenFailed(StoreException e) {
        listenFailures++;
        Instant now = clock.instant();
        if (listenWarnedAt == null || !now.isBefore(listenWarnedAt.plus(LISTEN_WARNING_EVERY))) {
            listenWarnedAt = now;
            LOG.warnf("cannot LISTEN for new work (%d attempts failed; jobs are still found by polling every %s, so"
                    + " they start later): %s. Check atelier.executor.listen-url: LISTEN needs a session, not a"
                    + " transaction-mode pooler", listenFailures, settings.poll(), rootMessage(e));
        } else {
            LOG.debugf("listening failed, polling meanwhile: %s", e.getMessage());
        }
    }

    private static String rootMessage(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root == e ? e.getMessage() : e.getMessage() + ": " + root.getMessage();
    }

    /**
     * Whether these signals bring new work for this executor: not work it opened itself (the payload names it), since
     * its completer runs a round right after storing the outcome that opened it.
     */
    static boolean wakesFor(List<QueueSignals.Signal> received, String executorId) {
        return received.stream().anyMatch(s -> QueueSignals.WORK_CHANNEL.equals(s.channel())
                && !executorId.equals(s.payload()));
    }

    private void listenLoop() {
        while (claiming) {
            try (QueueSignals signals = QueueSignals.open(signalSource)) {
                listening = true;
                if (listenFailures > 0) {
                    LOG.infof("listening for work again after %d failed attempts", listenFailures);
                    listenFailures = 0;
                    listenWarnedAt = null;
                }
                while (claiming) {
                    List<QueueSignals.Signal> received = signals.await(settings.poll());
                    if (received.stream().anyMatch(s -> QueueSignals.CANCEL_CHANNEL.equals(s.channel()))) {
                        cancelRequested.run();
                    }
                    if (wakesFor(received, backends.executorId())) {
                        wake();
                    }
                }
            } catch (StoreException e) {
                listening = false;
                listenFailed(e);
                Threads.pause(settings.poll());
            }
        }
    }
}
