package dev.atelier.store;

import dev.atelier.store.testing.Inspect;
import dev.atelier.store.testing.TestPostgres;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import javax.sql.DataSource;
import org.junit.jupiter.api.BeforeEach;

/** Every test gets a migrated database of its own on the test PostgreSQL. */
abstract class QueueTestBase {

    static final Duration LEASE = Duration.ofSeconds(30);
    static final String EXECUTOR = "executor-0-test";
    static final List<String> MODELS = List.of(dev.atelier.store.testing.Batches.MODEL);

    TestPostgres.Database database;
    DataSource dataSource;
    JobIntake intake;
    JobClaims claims;
    AttemptOutcomes outcomes;
    QueueSweeps sweeps;
    JobControl control;
    ExportLog exports;
    Inspect inspect;

    @BeforeEach
    void freshDatabase() {
        database = TestPostgres.get().newDatabase();
        dataSource = database.dataSource();
        intake = new JobIntake(dataSource);
        claims = new JobClaims(dataSource);
        outcomes = new AttemptOutcomes(dataSource);
        sweeps = new QueueSweeps(dataSource);
        control = new JobControl(dataSource);
        exports = new ExportLog(dataSource);
        inspect = new Inspect(dataSource);
    }

    List<ClaimedJob> claimOllama(int slots) {
        return claims.claim(EXECUTOR, Map.of("ollama", slots), MODELS, LEASE, null);
    }

    List<ClaimedJob> claimOllamaAt(int slots, Instant now) {
        return claims.claim(EXECUTOR, Map.of("ollama", slots), MODELS, LEASE, now);
    }

    Map<java.util.UUID, JobState> succeed(Collection<ClaimedJob> jobs) {
        return outcomes.finish(jobs.stream()
                .map(j -> new AttemptOutcome.Success(j.id(), j.leaseToken(), "{\"text\": \"done " + j.key() + "\"}"))
                .toList(), null).moved();
    }

    Map<java.util.UUID, JobState> failForGood(Collection<ClaimedJob> jobs) {
        return outcomes.finish(jobs.stream()
                .map(j -> new AttemptOutcome.Failure(j.id(), j.leaseToken(), "HTTP 400 from Ollama: bad", false))
                .toList(), null).moved();
    }
}
