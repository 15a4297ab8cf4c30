package dev.atelier.executor.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.atelier.executor.backend.BackendState;
import dev.atelier.store.BatchMode;
import dev.atelier.store.NewBatch;
import dev.atelier.store.QueueSignals;
import dev.atelier.store.StoreException;
import dev.atelier.store.testing.Batches;
import dev.atelier.store.testing.FlakyDataSource;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link ClaimLoop}, driven one round at a time: it claims no more than the free slots, only for backends that can
 * take work now, nothing once stopped, and a claim whose answer was lost is handed back unspent.
 */
class ClaimLoopTests {

    LoopFixture fixture = new LoopFixture();

    @AfterEach
    void tearDown() throws Exception {
        fixture.close();
    }

    @Test
    void aRoundClaimsNoMoreThanTheFreeSlotsAndOnlyForABackendThatCanTakeWork() {
        fixture.wire();
        fixture.runner.untilStopped();
        List<UUID> jobs = fixture.submit(5);
        ClaimLoop claims = fixture.parts.claims();

        assertThat(claims.runOnce()).as("two slots").isEqualTo(2);
        assertThat(claims.runOnce()).as("none free").isZero();
        assertThat(fixture.inspect.count("select count(*) from job where state = 'running'")).isEqualTo(2);

        // one ends; the backend is busy for five seconds of the loop's clock
        UUID first = fixture.parts.running().running().get(0).job().leaseToken();
        fixture.parts.running().stop(first, CallControl.StopReason.SHUTDOWN);
        await().until(() -> fixture.parts.running().count() == 1);
        fixture.backends.state("ollama").pause(fixture.clock.instant(), fixture.clock.instant().plusSeconds(5), "503");
        assertThat(claims.runOnce()).as("paused").isZero();
        fixture.clock.advance(Duration.ofSeconds(6));
        assertThat(claims.runOnce()).isEqualTo(1);

        fixture.backends.state("ollama").unreachable(fixture.clock.instant(), "refused");
        fixture.parts.running().stop(fixture.parts.running().running().get(0).job().leaseToken(),
                CallControl.StopReason.SHUTDOWN);
        await().until(() -> fixture.parts.running().count() == 1);
        assertThat(claims.runOnce()).as("offline").isZero();
        assertThat(jobs).hasSize(5);
    }

    @Test
    void aRoundOutrunByOtherClaimersLooksAgainAtOnceAndAPollLaterOnceItGotItsJobs() throws Exception {
        fixture.wire();
        fixture.runner.untilStopped();
        List<UUID> jobs = fixture.submit(3);
        ClaimLoop claims = fixture.parts.claims();
        Duration poll = LoopFixture.settings(Duration.ZERO).poll();
        try (java.sql.Connection other = fixture.dataSource.getConnection()) {
            // another executor's claim, not yet committed, holds every job
            other.setAutoCommit(false);
            other.createStatement().executeQuery("select id from job for update").close();

            assertThat(claims.runOnce()).isZero();
            assertThat(claims.nextWait()).as("outrun: it looks again at once").isLessThanOrEqualTo(ClaimLoop.OUTRUN_PAUSE);
            for (int round = 2; round <= ClaimLoop.OUTRUN_RETRIES; round++) {
                assertThat(claims.runOnce()).isZero();
                assertThat(claims.nextWait()).as("outrun %d times in a row: up to twice as long each time", round)
                        .isLessThanOrEqualTo(ClaimLoop.OUTRUN_PAUSE.multipliedBy(1L << (round - 1)));
            }
            assertThat(claims.runOnce()).isZero();
            assertThat(claims.nextWait()).as("outrun too often: it waits a poll, never spins")
                    .isGreaterThanOrEqualTo(poll.multipliedBy(3).dividedBy(4));
            other.rollback();
        }
        assertThat(claims.runOnce()).as("the jobs it was outrun for are free again").isEqualTo(2);
        assertThat(claims.nextWait()).isGreaterThanOrEqualTo(poll.multipliedBy(3).dividedBy(4));
        assertThat(jobs).hasSize(3);
        assertThat(fixture.claimsSeen).as("the listener (metrics, the fleet bench) hears of each claim")
                .hasSize(ClaimLoop.OUTRUN_RETRIES + 2).startsWith("2 -> 0 outrun").endsWith("2 -> 2");
    }

    @Test
    void aFreedSlotWakesTheLoopUnlessItsLastRoundFoundTheQueueEmpty() {
        fixture.wire();
        fixture.runner.untilStopped();
        fixture.submit(3);
        ClaimLoop claims = fixture.parts.claims();

        assertThat(claims.runOnce()).as("both slots, and a job left").isEqualTo(2);
        claims.takeWakeUp();

        // one ends (through the runner, as in production): a full round may have left work, so its slot wakes the
        // loop, which takes the last job
        fixture.parts.running().stop(fixture.parts.running().running().get(0).job().leaseToken(),
                CallControl.StopReason.SHUTDOWN);
        await().until(() -> fixture.parts.running().count() == 1);
        assertThat(claims.takeWakeUp()).isTrue();
        assertThat(claims.runOnce()).isEqualTo(1);

        // the next ends; the round after it finds nothing, so the slot freed after that wakes nothing
        fixture.parts.running().stop(fixture.parts.running().running().get(0).job().leaseToken(),
                CallControl.StopReason.SHUTDOWN);
        await().until(() -> fixture.parts.running().count() == 1);
        assertThat(claims.runOnce()).as("the queue is empty").isZero();
        claims.takeWakeUp();
        fixture.parts.running().stop(fixture.parts.running().running().get(0).job().leaseToken(),
                CallControl.StopReason.SHUTDOWN);
        await().until(() -> fixture.parts.running().count() == 0);
        assertThat(claims.takeWakeUp()).as("nothing to take: the completer looks once the outcome is stored")
                .isFalse();

        // new work makes the next round full again, and a freed slot wakes it
        fixture.submit(3);
        assertThat(claims.runOnce()).isEqualTo(2);
        claims.takeWakeUp();
        fixture.parts.running().stop(fixture.parts.running().running().get(0).job().leaseToken(),
                CallControl.StopReason.SHUTDOWN);
        await().until(() -> fixture.parts.running().count() == 1);
        assertThat(claims.takeWakeUp()).isTrue();
    }

    @Test
    void idleSlotsOfAKindWithNoWorkDoNotMakeTheOtherKindsQueueLookEmpty() throws Exception {
        // an executor with ComfyUI slots and no workflows queued: once its Ollama slots are full, a round asks for the
        // ComfyUI slot alone and finds nothing, yet Ollama work is left, so its Ollama slots freeing up must look
        // again (ChaosIT once saw both executors idle between polls in the middle of a 1,000-job batch)
        try (LoopFixture both = new LoopFixture(Map.of("ollama", 2, "comfyui", 1))) {
            both.wire();
            both.runner.untilStopped();
            both.submit(4);
            ClaimLoop claims = both.parts.claims();
            assertThat(claims.runOnce()).as("both Ollama slots; no workflow for the ComfyUI one").isEqualTo(2);
            assertThat(claims.runOnce()).as("the ComfyUI slot alone").isZero();
            assertThat(both.claimsSeen).hasSize(2).endsWith("1 -> 0");
            claims.takeWakeUp();

            RunningJobs running = both.parts.running();
            running.stop(running.running().get(0).job().leaseToken(), CallControl.StopReason.SHUTDOWN);
            await().until(() -> running.count() == 1);
            assertThat(claims.takeWakeUp()).as("an Ollama slot freed while Ollama work is left wakes the loop").isTrue();

            claims.outcomesStored(false);
            assertThat(running.count()).as("a stored success that opened nothing still fills the freed Ollama slot"
                    + " at once, on the caller's thread").isEqualTo(2);

            // the ComfyUI queue looks empty again: with only its slot free, nothing wakes and the completer looks for
            // nothing
            assertThat(claims.runOnce()).as("the ComfyUI slot alone").isZero();
            claims.takeWakeUp();
            int rounds = both.claimsSeen.size();
            claims.slotFreed();
            claims.outcomesStored(false);
            assertThat(claims.takeWakeUp()).isFalse();
            assertThat(both.claimsSeen).as("no round for the ComfyUI slot").hasSize(rounds);
        }
    }

    @Test
    void storingAnOutcomeThatOpensAGateStartsTheNextJobOnTheCompletersThread() {
        fixture.wire();
        NewBatch batch = Batches.batch(BatchMode.SEQUENTIAL).ollamaJobs(2, 1).build();
        fixture.intake.insertBatch(batch);
        UUID first = batch.jobs().get(0).id(), second = batch.jobs().get(1).id();
        fixture.runner.script((job, control) -> { // the first answers at once, the second runs until stopped
            while (job.id().equals(second) && control.stopped() == null) {
                Thread.sleep(10);
            }
            return ScriptedRunner.JSON.createObjectNode().put("text", "done");
        });
        ClaimLoop claims = fixture.parts.claims();
        assertThat(claims.runOnce()).as("a sequential batch offers its head only").isEqualTo(1);
        await().until(() -> fixture.parts.completer().waitingCount() == 1);

        assertThat(fixture.parts.completer().runOnce()).isEqualTo(1);
        assertThat(fixture.state(first)).isEqualTo("success");
        assertThat(fixture.state(second)).as("claimed by the round the completer ran, no loop thread running")
                .isEqualTo("running");
        assertThat(fixture.runner.started).contains(second);
    }

    @Test
    void aStoredSuccessThatOpensNothingRunsNoRoundOnceTheQueueLookedEmptyAndAFailureDoes() throws Exception {
        fixture.wire();
        UUID first = fixture.submit(1).get(0);
        ClaimLoop claims = fixture.parts.claims();
        assertThat(claims.runOnce()).as("short of its slots: the queue looked empty").isEqualTo(1);
        await().until(() -> fixture.parts.completer().waitingCount() == 1);
        UUID later = fixture.submit(1).get(0); // in production its NOTIFY wakes the loop; nothing listens here

        assertThat(fixture.parts.completer().runOnce()).isEqualTo(1);
        assertThat(fixture.state(first)).isEqualTo("success");
        assertThat(fixture.state(later)).as("a success in a parallel batch that no job waits for opens nothing, so"
                + " the completer runs no round").isEqualTo("pending");

        // a failure may open work (here a retry without delay): the completer's round takes it again at once
        fixture.runner.script((job, control) -> {
            if (job.attempt() == 1) { // (started is a set: it cannot count attempts)
                throw new IllegalStateException("boom");
            }
            while (control.stopped() == null) { // the second attempt runs on, so the completer has one outcome to store
                Thread.sleep(10);
            }
            return ScriptedRunner.JSON.createObjectNode().put("text", "done");
        });
        assertThat(claims.runOnce()).isEqualTo(1);
        await().until(() -> fixture.parts.completer().waitingCount() == 1);
        assertThat(fixture.parts.completer().runOnce()).isEqualTo(1);
        assertThat(fixture.inspect.job(later).attempt()).as("claimed again by the completer's round").isEqualTo(2);
        assertThat(fixture.state(later)).isEqualTo("running");
    }

    @Test
    void workThisExecutorOpenedItselfDoesNotWakeItsLoop() {
        QueueSignals.Signal own = new QueueSignals.Signal(QueueSignals.WORK_CHANNEL, LoopFixture.EXECUTOR);
        assertThat(ClaimLoop.wakesFor(List.of(own), LoopFixture.EXECUTOR))
                .as("its completer runs a round right after storing it").isFalse();
        assertThat(ClaimLoop.wakesFor(List.of(own, new QueueSignals.Signal(QueueSignals.WORK_CHANNEL, "")),
                LoopFixture.EXECUTOR)).as("new batches come unsigned").isTrue();
        assertThat(ClaimLoop.wakesFor(List.of(new QueueSignals.Signal(QueueSignals.WORK_CHANNEL, "executor-b")),
                LoopFixture.EXECUTOR)).as("another executor's completion").isTrue();
        assertThat(ClaimLoop.wakesFor(List.of(new QueueSignals.Signal(QueueSignals.CANCEL_CHANNEL,
                UUID.randomUUID().toString())), LoopFixture.EXECUTOR)).isFalse();
    }

    @Test
    void stoppingWaitsForARoundTheCompleterRunsAndThenNothingIsClaimed() throws Exception {
        fixture.wire();
        fixture.runner.untilStopped();
        fixture.submit(3);
        ClaimLoop claims = fixture.parts.claims();
        java.util.concurrent.ExecutorService threads = java.util.concurrent.Executors.newFixedThreadPool(2);
        try (java.sql.Connection other = fixture.dataSource.getConnection()) {
            other.setAutoCommit(false);
            other.createStatement().execute("lock table job in access exclusive mode"); // the round's claim waits
            java.util.concurrent.Future<?> round = threads.submit(claims::claimNow);
            await().until(() -> fixture.inspect.count(
                    "select count(*) from pg_stat_activity where wait_event_type = 'Lock' and datname = current_database()") > 0);
            java.util.concurrent.Future<?> stop = threads.submit(() -> {
                claims.stop();
                return null;
            });
            Thread.sleep(300);
            assertThat(stop.isDone()).as("the stop waits for the round in flight").isFalse();
            other.rollback();
            stop.get(10, java.util.concurrent.TimeUnit.SECONDS);
            assertThat(fixture.parts.running().count()).as("the round in flight started what it claimed before the"
                    + " stop returned").isEqualTo(2);
            round.get(10, java.util.concurrent.TimeUnit.SECONDS);
        } finally {
            threads.shutdownNow();
        }
        assertThat(claims.runOnce()).as("stopped").isZero();
        claims.claimNow();
        assertThat(fixture.inspect.count("select count(*) from job where state = 'running'")).isEqualTo(2);
    }

    @Test
    void withNothingLoadedOneJobPicksTheModelAndTheNextRoundFillsTheSlotsPreferringIt() {
        fixture.wire();
        fixture.runner.untilStopped();
        fixture.backends.state("ollama").checked(BackendState.Status.ONLINE, List.of(Batches.MODEL, "qwen3:8b"),
                List.of(), fixture.clock.instant(), "cold");
        // the batch alternates two models; taking one of each would make the GPU swap between them
        NewBatch b = Batches.batch(BatchMode.PARALLEL).jobs(1, 1, "ollama.generate", "qwen3:8b")
                .jobs(1, 1, "ollama.generate", Batches.MODEL).jobs(1, 1, "ollama.generate", "qwen3:8b").build();
        fixture.intake.insertBatch(b);
        ClaimLoop claims = fixture.parts.claims();

        assertThat(claims.runOnce()).as("one job picks the model").isEqualTo(1);
        assertThat(claims.runOnce()).as("the other slot, preferring it").isEqualTo(1);
        assertThat(fixture.parts.running().running()).extracting(r -> r.job().model()).containsOnly("qwen3:8b");
    }

    @Test
    void aWorkflowGoesOnlyToTheExecutorWhoseComfyUiHasItsCheckpoint() {
        // two executors' loops in this JVM, on one database: their ComfyUIs have different checkpoints
        List<Lifecycle.Parts> executors = new java.util.ArrayList<>();
        for (String checkpoint : List.of("v1-5-pruned-emaonly-fp16.safetensors", "sd_xl_base_1.0.safetensors")) {
            Backends backends = new Backends("executor-" + checkpoint.substring(0, 2), Map.of("comfyui", 1),
                    Map.of("comfyui", "http://comfyui.test"));
            backends.state("comfyui").checked(BackendState.Status.ONLINE, List.of(checkpoint), fixture.clock.instant(), "");
            ScriptedRunner comfy = new ScriptedRunner("comfyui");
            comfy.untilStopped();
            executors.add(Lifecycle.assemble(fixture.dataSource, fixture.dataSource, fixture.dataSource, backends,
                    Map.of("comfyui", comfy), fixture.table, LoopFixture.settings(Duration.ofSeconds(5)), fixture.clock, (job, finished, took) -> { },
                    (took, sought, got, outrun) -> { }, (what, rows) -> { }, dev.atelier.store.BlobStorage.inPostgres()));
        }
        NewBatch sdxl = Batches.batch(BatchMode.PARALLEL).job("comfyui.workflow", null, "{\"workflow\": {\"4\":"
                + " {\"class_type\": \"CheckpointLoaderSimple\", \"inputs\": {\"ckpt_name\":"
                + " \"sd_xl_base_1.0.safetensors\"}}}}", Duration.ofMinutes(5)).build();
        fixture.intake.insertBatch(sdxl);
        try {
            assertThat(executors.get(0).claims().runOnce()).as("its ComfyUI lacks the checkpoint").isZero();
            assertThat(executors.get(1).claims().runOnce()).isEqualTo(1);
            assertThat(fixture.inspect.job(sdxl.jobs().get(0).id()).state()).isEqualTo("running");
        } finally {
            executors.forEach(parts -> parts.running().close());
        }
    }

    @Test
    void aStoppedLoopClaimsNothing() throws InterruptedException {
        fixture.wire();
        fixture.submit(3);
        ClaimLoop claims = fixture.parts.claims();
        claims.stop();

        assertThat(claims.runOnce()).isZero();
        assertThat(fixture.inspect.count("select count(*) from job where state = 'running'")).isZero();
    }

    @Test
    void aClaimWhoseAnswerWasLostIsHandedBackWithoutSpendingAnAttempt() {
        FlakyDataSource flaky = new FlakyDataSource(fixture.dataSource);
        fixture.wire(flaky.dataSource(), fixture.dataSource, Duration.ofSeconds(5));
        fixture.runner.untilStopped();
        List<UUID> jobs = fixture.submit(3);
        ClaimLoop claims = fixture.parts.claims();

        flaky.loseNextCommitAnswer();
        assertThatThrownBy(claims::runOnce).isInstanceOf(StoreException.class);
        // the claim went through: two jobs run under tokens only the loop kept
        assertThat(fixture.inspect.count("select count(*) from job where state = 'running'")).isEqualTo(2);
        assertThat(claims.unconfirmed()).hasSize(2);
        assertThat(fixture.parts.running().count()).as("nothing started for them").isZero();

        // while the database is away the tokens are kept, and the heartbeat renews them
        flaky.down(true);
        assertThatThrownBy(claims::runOnce).isInstanceOf(StoreException.class);
        assertThat(claims.unconfirmed()).hasSize(2);
        flaky.down(false);
        assertThat(fixture.outcomes.heartbeat(claims.unconfirmed().keySet(), LoopFixture.LEASE, null).extended()).hasSize(2);

        assertThat(claims.runOnce()).as("handed back, then claimed again on their first attempt").isEqualTo(2);
        assertThat(claims.unconfirmed()).isEmpty();
        for (UUID id : jobs) {
            List<String> events = fixture.inspect.eventStatuses(id);
            assertThat(events).doesNotContain("failed");
            assertThat(fixture.inspect.job(id).attemptsUsed()).isZero();
        }
        assertThat(fixture.inspect.count("select count(*) from event_line where status = 'handed_back'")).isEqualTo(2);
        assertThat(fixture.parts.running().running()).extracting(r -> r.job().attempt()).containsOnly(1);
    }

    @Test
    void aClaimRefusedBeforeItsCommitLeavesNothingToHandBack() {
        FlakyDataSource flaky = new FlakyDataSource(fixture.dataSource);
        fixture.wire(flaky.dataSource(), fixture.dataSource, Duration.ofSeconds(5));
        fixture.submit(2);
        ClaimLoop claims = fixture.parts.claims();

        flaky.down(true);
        assertThatThrownBy(claims::runOnce).isInstanceOf(StoreException.class);
        flaky.down(false);

        assertThat(claims.unconfirmed()).hasSize(2);
        assertThat(claims.handBackUnconfirmed()).isZero();
        assertThat(claims.unconfirmed()).isEmpty();
        assertThat(claims.runOnce()).isEqualTo(2);
        await().until(() -> fixture.parts.running().count() == 0);
        assertThat(fixture.inspect.count("select count(*) from event_line where status = 'handed_back'")).isZero();
    }
}
