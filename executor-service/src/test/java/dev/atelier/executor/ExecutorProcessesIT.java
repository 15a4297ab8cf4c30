package dev.atelier.executor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.atelier.fakes.FakeOllama;
import dev.atelier.store.BatchMode;
import dev.atelier.store.JobControl;
import dev.atelier.store.JobIntake;
import dev.atelier.store.NewBatch;
import dev.atelier.store.testing.Batches;
import dev.atelier.store.testing.Inspect;
import dev.atelier.store.testing.TestPostgres;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Packaged executors as separate processes over one PostgreSQL, each with its own fake Ollama:
 * executor-a's has llama3.2 and mistral, executor-b's has qwen3 and mistral.
 */
class ExecutorProcessesIT {

    private static final Duration WAIT = Duration.ofSeconds(90);

    static TestPostgres.Database db;
    static DataSource dataSource;
    static JobIntake intake;
    static JobControl control;
    static Inspect inspect;
    static FakeOllama fakeA;
    static FakeOllama fakeB;
    static ExecutorProcess a;
    static ExecutorProcess b;

    @BeforeAll
    static void startExecutors() throws Exception {
        db = TestPostgres.get().newDatabase();
        dataSource = db.dataSource();
        intake = new JobIntake(dataSource);
        control = new JobControl(dataSource);
        inspect = new Inspect(dataSource);
        fakeA = new FakeOllama();
        fakeA.models("llama3.2:latest", "mistral:latest");
        fakeB = new FakeOllama();
        fakeB.models("qwen3:8b", "mistral:latest");
        a = ExecutorProcess.start("executor-a", db, fakeA.url(), 4);
        b = ExecutorProcess.start("executor-b", db, fakeB.url(), 4);
    }

    @AfterAll
    static void stopExecutors() throws Exception {
        for (AutoCloseable c : new AutoCloseable[] {a, b, fakeA, fakeB}) {
            if (c != null) {
                c.close();
            }
        }
    }

    @Test
    void eachExecutorGetsOnlyJobsForItsOwnModels() {
        NewBatch batch = jobs("llama3.2", "only-a", 15);
        NewBatch other = jobs("qwen3:8b", "only-b", 15);
        intake.insertBatch(batch);
        intake.insertBatch(other);

        awaitAllSucceeded(batch);
        awaitAllSucceeded(other);
        assertThat(executorsOf(batch)).containsExactly("executor-a");
        assertThat(executorsOf(other)).containsExactly("executor-b");
        assertThat(fakeA.callsByPrompt().keySet()).noneMatch(p -> p.startsWith("only-b"));
        assertThat(fakeB.callsByPrompt().keySet()).noneMatch(p -> p.startsWith("only-a"));
    }

    @Test
    void twoExecutorsWorkFiveHundredJobsEachCalledAndCompletedOnce() {
        NewBatch batch = jobs("mistral", "shared", 500);
        intake.insertBatch(batch);

        awaitAllSucceeded(batch);
        for (int i = 0; i < 500; i++) {
            String prompt = "shared " + i;
            assertThat(fakeA.calls(prompt) + fakeB.calls(prompt)).as(prompt).isEqualTo(1);
        }
        assertThat(executorsOf(batch)).containsExactlyInAnyOrder("executor-a", "executor-b");
        assertThat(inspect.count("select count(*) from attempt a join job j on j.id = a.job_id where j.batch_id = '"
                + batch.id() + "'")).isEqualTo(500);
        assertThat(inspect.count("select count(*) from ledger_line where batch_id = '" + batch.id() + "'"))
                .as("completed once: one ledger line per job").isEqualTo(500);
    }

    @Test
    void aJobOfAnExecutorKilledMidCallIsFinishedByAnotherWithinALease() throws Exception {
        FakeOllama stuck = stuckOllama("phi4:latest");
        try (stuck; ExecutorProcess victim = ExecutorProcess.start("executor-c", db, stuck.url(), 1)) {
            NewBatch batch = jobs("phi4", "killed mid-call", 1);
            intake.insertBatch(batch);
            UUID job = batch.jobs().get(0).id();
            await().atMost(WAIT).until(() -> stuck.calls("killed mid-call 0") == 1);
            fakeA.models("llama3.2:latest", "mistral:latest", "phi4:latest");

            victim.kill();
            Instant killed = Instant.now();

            await().atMost(WAIT).until(() -> inspect.job(job).state().equals("success"));
            Duration took = Duration.between(killed, Instant.now());
            System.out.println("a killed executor's job finished elsewhere " + took.toMillis() + " ms after the kill");
            assertThat(took).as("lease 3 s + reap 1 s, plus polling and slack for a busy machine")
                    .isLessThan(Duration.ofSeconds(10));
            List<Inspect.AttemptRow> attempts = inspect.attempts(job);
            assertThat(attempts).extracting(Inspect.AttemptRow::status).containsExactly("failed", "success");
            assertThat(attempts.get(0).error()).isEqualTo("lease expired on executor-c");
            assertThat(attempts.get(1).executorId()).isEqualTo("executor-a");
            assertThat(inspect.ledgerStatuses(job)).containsExactly("success");
        } finally {
            fakeA.models("llama3.2:latest", "mistral:latest");
        }
    }

    @Test
    void aStoppingExecutorHandsItsUnfinishedJobBackWithoutSpendingAnAttempt() throws Exception {
        FakeOllama stuck = stuckOllama("gemma3:latest");
        try (stuck; ExecutorProcess stopping = ExecutorProcess.start("executor-d", db, stuck.url(), 1)) {
            NewBatch batch = jobs("gemma3", "handed back on stop", 1);
            intake.insertBatch(batch);
            UUID job = batch.jobs().get(0).id();
            await().atMost(WAIT).until(() -> stuck.calls("handed back on stop 0") == 1);

            stopping.stop();

            assertThat(inspect.job(job).state()).isEqualTo("pending");
            assertThat(inspect.job(job).attemptsUsed()).isZero();
            assertThat(inspect.attempts(job)).isEmpty();
            assertThat(inspect.eventStatuses(job)).containsExactly("handed_back");
            assertThat(inspect.count("select count(*) from executor where id = 'executor-d'"))
                    .as("a clean stop leaves the registry").isZero();
            control.cancelJob(job, null);
        }
    }

    @Test
    void drainingForAPreStopLetsARunningJobOutliveItsLeaseAndClaimsNothingMore() throws Exception {
        FakeOllama slow = new FakeOllama();
        slow.models("qwen2.5:latest");
        try (slow; ExecutorProcess draining = ExecutorProcess.start("executor-e", db, slow.url(), 1,
                Map.of("ATELIER_EXECUTOR_SHUTDOWN_GRACE", "PT30S"))) {
            NewBatch batch = jobs("qwen2.5", "slow:7000 drained", 1);
            intake.insertBatch(batch);
            UUID job = batch.jobs().get(0).id();
            await().atMost(WAIT).until(() -> slow.calls("slow:7000 drained 0") == 1);

            HttpClient http = HttpClient.newHttpClient();
            assertThat(http.send(HttpRequest.newBuilder(URI.create(draining.url() + "/drain")).build(),
                    HttpResponse.BodyHandlers.discarding()).statusCode())
                    .as("the service port has no /drain: only the management interface, closed to every pod").isEqualTo(404);
            var drainCall = http.sendAsync(HttpRequest.newBuilder(URI.create(draining.managementUrl() + "/drain"))
                    .timeout(Duration.ofSeconds(60)).build(), HttpResponse.BodyHandlers.ofString());

            // while it drains: not ready (no new work is routed to it), still live, and reported draining
            await().atMost(WAIT).until(() -> status(http, draining.url() + "/q/health/ready") == 503);
            assertThat(status(http, draining.url() + "/q/health/live")).isEqualTo(200);
            await().atMost(WAIT).until(() -> inspect.count("select count(*) from executor where id = 'executor-e'"
                    + " and draining_since is not null") == 1);
            assertThat(drainCall.isDone()).as("the drain answers only when its job is done").isFalse();

            HttpResponse<String> drained = drainCall.get(60, java.util.concurrent.TimeUnit.SECONDS);
            assertThat(drained.statusCode()).isEqualTo(200);
            assertThat(drained.body()).contains("\"handed_back\":0");
            assertThat(inspect.job(job).state()).as("it answered once the job had finished").isEqualTo("success");
            assertThat(inspect.attempts(job)).as("heartbeats kept the lease through the drain (7 s, lease 3 s)")
                    .extracting(Inspect.AttemptRow::status).containsExactly("success");

            NewBatch after = jobs("qwen2.5", "after the drain", 1);
            intake.insertBatch(after);
            Thread.sleep(2000);
            assertThat(inspect.job(after.jobs().get(0).id()).state()).as("a drained executor claims nothing").isEqualTo("pending");
            control.cancelJob(after.jobs().get(0).id(), null);
        }
    }

    private static int status(HttpClient http, String url) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.discarding())
                .statusCode();
    }

    /** A fake Ollama with one model that holds every request without answering. */
    private static FakeOllama stuckOllama(String model) {
        FakeOllama stuck = new FakeOllama();
        stuck.models(model);
        stuck.holdAll(true);
        return stuck;
    }

    private static NewBatch jobs(String model, String promptPrefix, int count) {
        Batches batch = Batches.batch(BatchMode.PARALLEL).retry(3, Duration.ZERO, 1.0);
        for (int i = 0; i < count; i++) {
            batch.job("ollama.generate", model,
                    "{\"model\": \"" + model + "\", \"prompt\": \"" + promptPrefix + " " + i + "\"}", Duration.ofMinutes(1));
        }
        return batch.build();
    }

    private static void awaitAllSucceeded(NewBatch batch) {
        await().atMost(WAIT).until(() -> inspect.count("select count(*) from job where state = 'success' and batch_id = '"
                + batch.id() + "'") == batch.jobs().size());
    }

    private static List<String> executorsOf(NewBatch batch) {
        return inspect.strings("select distinct a.executor_id from attempt a join job j on j.id = a.job_id"
                + " where j.batch_id = ? order by 1", batch.id());
    }
}
