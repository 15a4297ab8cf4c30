package dev.atelier.executor.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.atelier.store.StoreException;
import dev.atelier.store.testing.FlakyDataSource;
import dev.atelier.store.testing.Inspect;
import io.agroal.api.AgroalDataSource;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link LeaseKeeper}, one heartbeat at a time on a clock the test moves: it renews every lease the executor may
 * hold, stops calls whose lease is gone or whose job was cancelled, fences the executor when its own renewals fail
 * while the database answers, and never during an outage.
 */
class LeaseKeeperTests {

    LoopFixture fixture = new LoopFixture();

    @AfterEach
    void tearDown() throws Exception {
        fixture.close();
    }

    private long leasesRenewedForTwentySeconds() {
        return fixture.inspect.count("select count(*) from job where state = 'running'"
                + " and lease_expires_at > now() + interval '20 seconds'");
    }

    @Test
    void aHeartbeatRenewsRunningJobsOutcomesWaitingToBeStoredAndClaimsWhoseAnswerWasLost() {
        fixture.wire(pool.dataSource(), fixture.dataSource, Duration.ofSeconds(5));
        fixture.runner.script((job, control) -> {
            while (job.key().equals("job-0") && control.stopped() == null) {
                Thread.sleep(10);
            }
            return ScriptedRunner.JSON.createObjectNode().put("text", "done");
        });
        fixture.submit(3);
        ClaimLoop claims = fixture.parts.claims();
        assertThat(claims.runOnce()).isEqualTo(2);
        // job-1 is done: its outcome waits in the completer, which is not running
        await().until(() -> fixture.parts.completer().waitingCount() == 1);
        pool.loseNextCommitAnswer();
        assertThatThrownBy(claims::runOnce).isInstanceOf(StoreException.class);
        assertThat(claims.unconfirmed()).hasSize(1);

        fixture.inspect.execute("update job set lease_expires_at = now() + interval '1 second' where state = 'running'");
        assertThat(leasesRenewedForTwentySeconds()).isZero();
        fixture.parts.leases().runOnce();

        assertThat(leasesRenewedForTwentySeconds()).as("running, waiting to be stored, unconfirmed").isEqualTo(3);
        assertThat(fixture.parts.leases().fenced()).isFalse();
    }

    @Test
    void aLeaseTakenBackStopsItsCallAndACancelRequestCancelsIt() {
        fixture.wire();
        fixture.runner.untilStopped();
        List<UUID> jobs = fixture.submit(2);
        assertThat(fixture.parts.claims().runOnce()).isEqualTo(2);

        // another executor's reaper took the first job's lease; a user cancels the second
        fixture.inspect.execute("update job set lease_expires_at = now() - interval '1 second' where id = ?", jobs.get(0));
        assertThat(fixture.sweeps.reapExpired(10, null)).containsOnlyKeys(jobs.get(0));
        assertThat(fixture.state(jobs.get(0))).isEqualTo("retry");
        assertThat(fixture.control.cancelJob(jobs.get(1), null).cancelRequested()).isEqualTo(1);
        fixture.parts.leases().runOnce();

        await().until(() -> fixture.parts.running().count() == 0);
        assertThat(fixture.parts.completer().runOnce()).as("only the cancel has something to store").isEqualTo(1);
        assertThat(fixture.inspect.attempts(jobs.get(0))).extracting(Inspect.AttemptRow::error)
                .as("the round the completer runs after storing takes the retry again (no backoff here)")
                .containsExactly("lease expired on " + LoopFixture.EXECUTOR, null);
        assertThat(fixture.state(jobs.get(0))).isEqualTo("running");
        assertThat(fixture.state(jobs.get(1))).isEqualTo("cancelled");
        assertThat(fixture.ended).containsExactlyInAnyOrder("Abandoned", "Cancelled");
    }

    @Test
    void aHeartbeatConnectionThatHangsFencesTheExecutorAndNoJobCompletesTwice() throws Exception {
        try (AgroalDataSource own = DedicatedConnection.open(fixture.database.jdbcUrl(), fixture.database.username(),
                fixture.database.password(), Duration.ofSeconds(1), "atelier-heartbeat")) {
            fixture.wire(fixture.dataSource, own, Duration.ofSeconds(5));
            fixture.runner.untilStopped();
            UUID job = fixture.submit(1).get(0);
            fixture.lifecycle.start(); // the claim loop and the completer run; heartbeats are the test's
            await().until(() -> fixture.parts.running().count() == 1);
            LeaseKeeper leases = fixture.parts.leases();
            leases.runOnce();
            assertThat(fixture.lifecycle.live()).isTrue();

            try (Connection blocker = fixture.dataSource.getConnection(); Statement st = blocker.createStatement()) {
                // a lock holds the job's row: renewals wait on it until their connection gives up (1 s), while the
                // pool (the executor report) answers as usual
                blocker.setAutoCommit(false);
                st.execute("select 1 from job where id = '" + job + "' for update");

                fixture.clock.advance(LoopFixture.LEASE.minusSeconds(2));
                long started = System.nanoTime();
                leases.runOnce();
                assertThat(Duration.ofNanos(System.nanoTime() - started)).as("the renewal hung until its timeout")
                        .isGreaterThanOrEqualTo(Duration.ofMillis(900));
                assertThat(leases.fenced()).as("the lease still has two seconds").isFalse();
                assertThat(fixture.parts.running().count()).isEqualTo(1);

                fixture.clock.advance(Duration.ofSeconds(3));
                leases.runOnce();
                assertThat(leases.fenced()).isTrue();
                assertThat(fixture.lifecycle.live()).as("liveness DOWN").isFalse();
                await().until(() -> fixture.parts.running().count() == 0);
                assertThat(fixture.ended).containsExactly("Abandoned");
                blocker.rollback();
            }

            // another executor's reaper takes the lease back; the job runs again here and succeeds, once
            fixture.runner.script((j, control) -> ScriptedRunner.JSON.createObjectNode().put("text", "second run"));
            fixture.inspect.execute("update job set lease_expires_at = now() - interval '1 second' where id = ?", job);
            assertThat(fixture.sweeps.reapExpired(10, null)).containsOnlyKeys(job);
            fixture.parts.claims().wake();
            await().atMost(Duration.ofSeconds(20)).until(() -> fixture.state(job).equals("success"));
            leases.runOnce();
            assertThat(leases.fenced()).as("renewals work again").isFalse();
            assertThat(fixture.lifecycle.live()).isTrue();
            assertThat(fixture.inspect.attempts(job)).extracting(a -> a.status() + " " + a.error())
                    .containsExactly("failed lease expired on " + LoopFixture.EXECUTOR, "success null");
            assertThat(fixture.inspect.ledgerStatuses(job)).containsExactly("success");
        }
    }

    /** The pool and the heartbeat's connection, each able to fail on cue. */
    FlakyDataSource pool = new FlakyDataSource(fixture.dataSource);
    FlakyDataSource heartbeats = new FlakyDataSource(fixture.dataSource);

    /** One job running while the database goes away for two leases; the keeper has tried a heartbeat meanwhile. */
    private UUID runningThroughAnOutage() {
        fixture.wire(pool.dataSource(), heartbeats.dataSource(), Duration.ofSeconds(5));
        fixture.runner.untilStopped();
        UUID job = fixture.submit(1).get(0);
        assertThat(fixture.parts.claims().runOnce()).isEqualTo(1);
        pool.down(true);
        heartbeats.down(true);
        fixture.clock.advance(LoopFixture.LEASE.multipliedBy(2));
        fixture.parts.leases().runOnce();
        return job;
    }

    @Test
    void throughADatabaseOutageCallsGoOnAndNothingIsFenced() {
        UUID job = runningThroughAnOutage();
        LeaseKeeper leases = fixture.parts.leases();
        assertThat(leases.fenced()).isFalse();
        assertThat(leases.answeringFor(Duration.ZERO)).isFalse();
        assertThat(fixture.parts.running().count()).as("the call goes on").isEqualTo(1);

        pool.down(false);
        heartbeats.down(false);
        leases.runOnce();
        assertThat(leases.fenced()).isFalse();
        assertThat(leasesRenewedForTwentySeconds()).isEqualTo(1);
        assertThat(leases.answeringFor(LoopFixture.LEASE.multipliedBy(2))).as("reaping waits two leases").isFalse();
        fixture.clock.advance(LoopFixture.LEASE.multipliedBy(2));
        assertThat(leases.answeringFor(LoopFixture.LEASE.multipliedBy(2))).isTrue();
        assertThat(fixture.state(job)).isEqualTo("running");
    }

    @Test
    void renewalsThatFailAloneRightAfterAnOutageAreGivenALeaseBeforeAnythingIsFenced() {
        runningThroughAnOutage();
        LeaseKeeper leases = fixture.parts.leases();

        // the pool is back first; the heartbeat's connection a while later
        pool.down(false);
        leases.runOnce();
        assertThat(leases.fenced()).as("its lease ran out in the outage, but nobody may reap yet").isFalse();
        fixture.clock.advance(LoopFixture.LEASE.minusSeconds(1));
        leases.runOnce();
        assertThat(leases.fenced()).isFalse();
        fixture.clock.advance(Duration.ofSeconds(2));
        leases.runOnce();
        assertThat(leases.fenced()).as("a lease after the database came back, renewals still fail").isTrue();
        heartbeats.down(false);
        await().until(() -> fixture.parts.running().count() == 0);
    }
}
