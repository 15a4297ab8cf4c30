package dev.atelier.executor.comfyui;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atelier.executor.ExecutorProcess;
import dev.atelier.fakes.FakeComfy;
import dev.atelier.store.BatchMode;
import dev.atelier.store.JobIntake;
import dev.atelier.store.NewBatch;
import dev.atelier.store.testing.Batches;
import dev.atelier.store.testing.Inspect;
import dev.atelier.store.testing.TestPostgres;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Packaged executors as processes, one fake ComfyUI: an executor that stops (or dies) after submitting leaves the
 * run going on ComfyUI, and the next attempt, on another executor, adopts it. The GPU work is done once: the fake
 * sees exactly one {@code POST /prompt} for the job.
 */
class ComfyAdoptionIT {

    private static final Duration WAIT = Duration.ofSeconds(60);

    static TestPostgres.Database db;
    static JobIntake intake;
    static Inspect inspect;
    static FakeComfy fake;
    static final ObjectMapper JSON = new ObjectMapper();

    @BeforeAll
    static void start() {
        db = TestPostgres.get().newDatabase();
        intake = new JobIntake(db.dataSource());
        inspect = new Inspect(db.dataSource());
        fake = new FakeComfy();
    }

    @AfterAll
    static void stop() {
        if (fake != null) {
            fake.close();
        }
    }

    private static UUID submitSlowRun(String text) throws Exception {
        ObjectNode graph = (ObjectNode) JSON.readTree(FakeComfy.txt2img());
        ((ObjectNode) graph.path("6").path("inputs")).put("text", text);
        NewBatch batch = Batches.batch(BatchMode.PARALLEL).retry(3, Duration.ZERO, 1.0)
                .job("comfyui.workflow", null, "{\"workflow\": " + graph + "}", Duration.ofMinutes(2)).build();
        intake.insertBatch(batch);
        return batch.jobs().get(0).id();
    }

    private static String promptId(UUID job) {
        List<String> ref = inspect.strings("select backend_ref from job where id = ?", job);
        return ref.isEmpty() ? null : ref.get(0);
    }

    private static String holder(UUID job) {
        return inspect.strings("select executor_id from job where id = ? and state = 'running'", job).stream()
                .findFirst().orElse(null);
    }

    @Test
    void anExecutorStoppedAfterSubmittingLeavesTheRunForTheNextToAdopt() throws Exception {
        UUID job;
        String promptId;
        try (ExecutorProcess first = ExecutorProcess.startComfy("executor-first", db, fake.url())) {
            job = submitSlowRun("Kitana portrait slow:6000");
            await().atMost(WAIT).until(() -> promptId(job) != null && fake.isRunning(promptId(job)));
            promptId = promptId(job);
            // a JVM stopped by SIGTERM exits 143 once its shutdown (the hand-back) has run
            assertThat(first.stop()).isIn(0, 143);
        }
        assertThat(inspect.job(job).state()).as("handed back on a graceful stop").isEqualTo("pending");
        assertThat(fake.isRunning(promptId)).as("the run goes on without its executor").isTrue();

        try (ExecutorProcess second = ExecutorProcess.startComfy("executor-second", db, fake.url())) {
            await().atMost(WAIT).until(() -> inspect.job(job).state().equals("success"));
        }
        assertThat(fake.posts(promptId)).as("one POST /prompt for the job").isEqualTo(1);
        assertThat(inspect.attempts(job)).singleElement().satisfies(a -> {
            assertThat(a.executorId()).isEqualTo("executor-second");
            assertThat(a.status()).isEqualTo("success");
        });
        assertThat(JSON.readTree(inspect.job(job).result()).path("prompt_id").asText()).isEqualTo(promptId);
    }

    @Test
    void anExecutorKilledAfterSubmittingLeavesTheRunForTheNextToAdopt() throws Exception {
        try (ExecutorProcess a = ExecutorProcess.startComfy("executor-a", db, fake.url());
             ExecutorProcess b = ExecutorProcess.startComfy("executor-b", db, fake.url())) {
            UUID job = submitSlowRun("Jade portrait slow:8000");
            await().atMost(WAIT).until(() -> promptId(job) != null && fake.isRunning(promptId(job)) && holder(job) != null);
            String promptId = promptId(job);
            String killed = holder(job);
            (killed.equals("executor-a") ? a : b).kill();

            await().atMost(WAIT).until(() -> inspect.job(job).state().equals("success"));
            assertThat(fake.posts(promptId)).as("one POST /prompt for the job").isEqualTo(1);
            assertThat(inspect.attempts(job)).extracting(Inspect.AttemptRow::status).containsExactly("failed", "success");
            assertThat(inspect.attempts(job).get(0).error()).isEqualTo("lease expired on " + killed);
            assertThat(inspect.attempts(job).get(1).executorId()).isNotEqualTo(killed);
        }
    }
}
