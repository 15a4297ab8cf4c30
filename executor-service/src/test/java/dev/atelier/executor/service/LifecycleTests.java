package dev.atelier.executor.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link Lifecycle} and {@link RunningJobs} with every loop running: a graceful stop never spends an attempt, even
 * when a runner does not stop; a drain lets running jobs finish; and a runner that dies of an {@code Error} still
 * frees its slot and ends its job.
 */
class LifecycleTests {

    LoopFixture fixture = new LoopFixture();

    @AfterEach
    void tearDown() throws Exception {
        fixture.close();
    }

    @Test
    void aShutdownWhoseRunnerDoesNotStopInTimeHandsTheJobBackWithoutSpendingAnAttempt() throws Exception {
        fixture.wire(fixture.dataSource, fixture.dataSource, Duration.ofSeconds(1));
        fixture.runner.ignoringStops();
        UUID job = fixture.submit(1).get(0);
        fixture.lifecycle.start();
        await().until(() -> fixture.runner.started.contains(job));

        long started = System.nanoTime();
        fixture.lifecycle.stop();
        Duration took = Duration.ofNanos(System.nanoTime() - started);

        assertThat(took).as("the grace, then at once").isLessThan(Duration.ofSeconds(8));
        assertThat(fixture.state(job)).isEqualTo("pending");
        assertThat(fixture.inspect.job(job).waitingReason()).isEqualTo(Lifecycle.SHUTDOWN_REASON);
        assertThat(fixture.inspect.job(job).attemptsUsed()).isZero();
        assertThat(fixture.inspect.attempts(job)).as("not spent, not shown").isEmpty();
        assertThat(fixture.inspect.eventStatuses(job)).containsExactly("handed_back");
        assertThat(fixture.inspect.count("select count(*) from executor")).as("it left the registry").isZero();
        assertThat(fixture.lifecycle.live()).isFalse();

        // the runner ends at last: its outcome, under a lease no longer its own, changes nothing
        fixture.runner.release.countDown();
        Thread.sleep(300);
        assertThat(fixture.state(job)).isEqualTo("pending");
    }

    @Test
    void anExecutorWhoseListenUrlFailsSaysSoAndStillRunsJobsByPolling() throws Exception {
        org.postgresql.ds.PGSimpleDataSource nowhere = new org.postgresql.ds.PGSimpleDataSource();
        try (java.net.ServerSocket closed = new java.net.ServerSocket(0)) {
            nowhere.setUrl("jdbc:postgresql://127.0.0.1:" + closed.getLocalPort() + "/atelier?connectTimeout=2");
        }
        fixture.listenSource = nowhere;
        fixture.wire();
        fixture.lifecycle.start();
        await().until(() -> fixture.parts.claims().listenFailures() >= 2);
        assertThat(fixture.lifecycle.listening()).isFalse();

        UUID job = fixture.submit(1).get(0);
        await().atMost(Duration.ofSeconds(5)).until(() -> fixture.state(job).equals("success"));
        assertThat(fixture.lifecycle.listening()).as("found by its poll, not a NOTIFY").isFalse();
    }

    @Test
    void aDrainLetsRunningJobsFinishAndClaimsNothingMore() throws Exception {
        fixture.wire();
        fixture.runner.script((job, control) -> {
            Thread.sleep(300);
            return ScriptedRunner.JSON.createObjectNode().put("text", "finished in the drain");
        });
        List<UUID> first = fixture.submit(2);
        fixture.lifecycle.start();
        await().until(() -> fixture.runner.started.size() == 2);

        assertThat(fixture.lifecycle.drain()).as("nothing left to hand back").isZero();
        assertThat(fixture.lifecycle.live()).as("a long drain is not a hang").isTrue();
        assertThat(fixture.lifecycle.claiming()).isFalse();
        List<UUID> later = fixture.submit(1);
        await().until(() -> first.stream().allMatch(id -> fixture.state(id).equals("success")));
        Thread.sleep(500);
        assertThat(fixture.state(later.get(0))).as("nothing claimed after the drain").isEqualTo("pending");
        assertThat(fixture.lifecycle.drain()).as("once only").isZero();
    }

    @Test
    void aRunnerThatThrowsAnErrorFreesItsSlotAndItsJobFails() throws Exception {
        fixture.wire();
        fixture.runner.script((job, control) -> {
            if (job.key().equals("job-0")) {
                throw new OutOfMemoryError("Java heap space");
            }
            throw new StackOverflowError();
        });
        List<UUID> jobs = fixture.submit(2);
        fixture.lifecycle.start();

        // three attempts each, no backoff: every one spent, and the job failed
        await().until(() -> jobs.stream().allMatch(id -> fixture.state(id).equals("failed")));
        assertThat(fixture.inspect.attempts(jobs.get(0))).extracting(a -> a.error())
                .containsOnly("executor error: OutOfMemoryError: Java heap space").hasSize(3);
        assertThat(fixture.inspect.attempts(jobs.get(1))).extracting(a -> a.error())
                .allSatisfy(error -> assertThat(error).startsWith("executor error: StackOverflowError")).hasSize(3);
        await().until(() -> fixture.parts.running().count() == 0);
        assertThat(fixture.parts.running().free()).containsEntry("ollama", 2);
        assertThat(fixture.inspect.count("select count(*) from job where state = 'running'")).isZero();
        assertThat(fixture.lifecycle.live()).isTrue();
    }
}
