package dev.atelier.store;

import static dev.atelier.store.testing.Batches.batch;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * An executor's heartbeat renews all of its leases while its completer records outcomes for some of them, each in a
 * transaction of its own. Both lock the job rows in id order, so neither ever waits on the other in a cycle: a
 * PostgreSQL "deadlock detected" here is a failed test. (The heartbeat used to lock in the order of its
 * lease-token index, and an executor's completer hit the deadlock now and then in ChaosIT.)
 */
class LockOrderTests extends QueueTestBase {

    private static final int JOBS = 200;
    private static final int ROUNDS = 5;

    @Test
    void heartbeatsAndOutcomesOfTheSameLeasesNeverDeadlock() throws Exception {
        ExecutorService heartbeater = Executors.newSingleThreadExecutor();
        try {
            int accepted = 0;
            int heartbeats = 0;
            for (int round = 0; round < ROUNDS; round++) {
                intake.insertBatch(batch(BatchMode.PARALLEL).ollamaJobs(JOBS, 1).build());
                List<ClaimedJob> claimed = new ArrayList<>(claimOllama(JOBS));
                assertThat(claimed).hasSize(JOBS);
                List<UUID> tokens = claimed.stream().map(ClaimedJob::leaseToken).toList();

                AtomicBoolean finishing = new AtomicBoolean(true);
                Future<Integer> beating = heartbeater.submit(() -> {
                    int n = 0;
                    while (finishing.get()) {
                        outcomes.heartbeat(tokens, LEASE, null);
                        n++;
                    }
                    return n;
                });
                // outcomes in chunks of 10 in no particular order: successes, failures and hand-backs in turn
                Collections.shuffle(claimed);
                try {
                    for (int i = 0; i < JOBS; i += 10) {
                        List<AttemptOutcome> chunk = new ArrayList<>();
                        for (ClaimedJob job : claimed.subList(i, i + 10)) {
                            chunk.add(switch (i / 10 % 3) {
                                case 0 -> new AttemptOutcome.Success(job.id(), job.leaseToken(), "{\"text\": \"ok\"}");
                                case 1 -> new AttemptOutcome.Failure(job.id(), job.leaseToken(), "HTTP 400", false);
                                default -> new AttemptOutcome.HandBack(job.id(), job.leaseToken(), "executor stopping");
                            });
                        }
                        Map<UUID, JobState> moved = outcomes.finish(chunk, null).moved();
                        accepted += moved.size();
                    }
                } finally {
                    finishing.set(false);
                }
                heartbeats += beating.get(1, TimeUnit.MINUTES);
                assertThat(outcomes.heartbeat(tokens, LEASE, null).lost()).as("every lease ended").hasSize(JOBS);
            }
            System.out.printf("lock order: %d outcomes recorded while %d heartbeats renewed the same leases%n",
                    accepted, heartbeats);
            assertThat(accepted).isEqualTo(JOBS * ROUNDS);
            assertThat(heartbeats).as("the heartbeat ran alongside").isPositive();
            assertThat(inspect.count("select count(*) from job where state = 'running'")).isZero();
        } finally {
            heartbeater.shutdownNow();
        }
    }
}
