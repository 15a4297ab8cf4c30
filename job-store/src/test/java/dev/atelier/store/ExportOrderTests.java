package dev.atelier.store;

import static dev.atelier.store.testing.Batches.batch;
import static dev.atelier.store.testing.ExportLines.jobId;
import static dev.atelier.store.testing.ExportLines.lines;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atelier.store.testing.ExportLines;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * A reader resuming with after_seq never skips or repeats a line, even when writers commit out of order
 * (DESIGN.md, "Exports that never skip a line").
 */
class ExportOrderTests extends QueueTestBase {

    /** Ends a waiting job inside a transaction the test controls, so it can hold the commit back. */
    private static void cancelInOpenTransaction(Connection c, UUID jobId) throws Exception {
        try (PreparedStatement ps = c.prepareStatement(
                "update job set state = 'cancelled', finished_at = now() where id = ? and state = 'pending'")) {
            ps.setObject(1, jobId);
            assertThat(ps.executeUpdate()).isEqualTo(1);
        }
    }

    private List<UUID> readAllAfter(long afterSeq, List<Long> seqs) {
        List<UUID> jobs = new ArrayList<>();
        for (JsonNode line : lines(exports.ledgerAfter(ExportLog.ExportFilter.ALL, afterSeq, 1000))) {
            jobs.add(jobId(line));
            seqs.add(line.get("seq").asLong());
        }
        return jobs;
    }

    /**
     * Writer 1 takes its line and holds its commit; writer 2 writes after it and tries to commit first. A reader
     * that reads in between and then resumes must still see both.
     */
    private Set<UUID> readerSeesAcrossAnOutOfOrderCommit() throws Exception {
        NewBatch b = batch(BatchMode.PARALLEL).ollamaJobs(2, 1).build();
        intake.insertBatch(b);
        UUID first = b.jobs().get(0).id();
        UUID second = b.jobs().get(1).id();
        ExecutorService writer2 = Executors.newSingleThreadExecutor();
        Set<UUID> seen = new HashSet<>();
        List<Long> seqs = new ArrayList<>();
        try (Connection w1 = dataSource.getConnection()) {
            w1.setAutoCommit(false);
            cancelInOpenTransaction(w1, first);
            Future<?> w2 = writer2.submit(() -> {
                try (Connection c = dataSource.getConnection()) {
                    c.setAutoCommit(false);
                    cancelInOpenTransaction(c, second);
                    c.commit();
                }
                return null;
            });
            try {
                w2.get(1, TimeUnit.SECONDS);
            } catch (TimeoutException waitingForWriter1) {
                // a design that numbers at write time in commit order (a counter row) holds writer 2 here
            }
            seen.addAll(readAllAfter(0, seqs));
            long resumeAfter = seqs.isEmpty() ? 0 : Collections.max(seqs);
            w1.commit();
            w2.get(10, TimeUnit.SECONDS);
            seen.addAll(readAllAfter(resumeAfter, seqs));
        } finally {
            writer2.shutdownNow();
        }
        return seen;
    }

    @Test
    void aLateCommitIsNotSkipped() throws Exception {
        Set<UUID> seen = readerSeesAcrossAnOutOfOrderCommit();

        assertThat(seen).hasSize(2);
    }

    @Test
    void aPlainSequenceWouldSkipTheLateCommit() throws Exception {
        // the control: number lines from a sequence as they are written, as a naive design would
        try (Connection c = dataSource.getConnection(); Statement s = c.createStatement()) {
            s.execute("create sequence naive_seq");
            s.execute("""
                    create function naive_number() returns trigger language plpgsql as $$
                    begin
                        new.seq := nextval('naive_seq');
                        new.line := ledger_line_json(new, new.seq);
                        return new;
                    end $$""");
            s.execute("create trigger naive_number before insert on ledger_line for each row execute function naive_number()");
        }

        Set<UUID> seen = readerSeesAcrossAnOutOfOrderCommit();

        assertThat(seen).as("the reader resumed past the late line").hasSize(1);
    }

    @Test
    void aLineIsNumberedOnlyOnceEveryOlderTransactionHasEnded() throws Exception {
        NewBatch b = batch(BatchMode.PARALLEL).ollamaJobs(2, 1).build();
        intake.insertBatch(b);
        try (Connection older = dataSource.getConnection()) {
            older.setAutoCommit(false);
            cancelInOpenTransaction(older, b.jobs().get(0).id());
            control.cancelJob(b.jobs().get(1).id(), null); // commits at once, after the older one began

            assertThat(exports.numberNewLines()).as("the younger line waits for the older transaction").isZero();
            assertThat(inspect.count("select count(*) from ledger_line where seq is null")).isEqualTo(1);
            older.commit();
        }
        assertThat(exports.numberNewLines()).isEqualTo(2);
        assertThat(lines(exports.ledgerAfter(ExportLog.ExportFilter.ALL, 0, 10)))
                .extracting(ExportLines::jobId)
                .containsExactly(b.jobs().get(0).id(), b.jobs().get(1).id());
    }

    @Test
    void concurrentWritersAndAResumingReaderSeeEveryLineOnce() throws Exception {
        int writers = 8;
        int jobsPerWriter = 60;
        NewBatch b = batch(BatchMode.PARALLEL).ollamaJobs(writers * jobsPerWriter, 1).build();
        intake.insertBatch(b);
        ExecutorService pool = Executors.newFixedThreadPool(writers + 1);
        AtomicBoolean writing = new AtomicBoolean(true);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int w = 0; w < writers; w++) {
                List<NewBatch.NewJob> mine = b.jobs().subList(w * jobsPerWriter, (w + 1) * jobsPerWriter);
                boolean slow = w % 2 == 0;
                done.add(pool.submit(() -> {
                    for (NewBatch.NewJob job : mine) {
                        if (slow) {
                            // hold the transaction open a little after taking a number
                            try (Connection c = dataSource.getConnection()) {
                                c.setAutoCommit(false);
                                cancelInOpenTransaction(c, job.id());
                                Thread.sleep(ThreadLocalRandom.current().nextInt(3));
                                c.commit();
                            }
                        } else {
                            control.cancelJob(job.id(), null);
                        }
                    }
                    return null;
                }));
            }
            List<Long> seqs = Collections.synchronizedList(new ArrayList<>());
            List<UUID> seen = Collections.synchronizedList(new ArrayList<>());
            Future<?> reader = pool.submit(() -> {
                long after = 0;
                while (true) {
                    boolean last = !writing.get();
                    // small pages so the reader resumes often
                    List<JsonNode> page = lines(exports.ledgerAfter(ExportLog.ExportFilter.ALL, after, 7));
                    for (JsonNode line : page) {
                        seqs.add(line.get("seq").asLong());
                        seen.add(jobId(line));
                        after = line.get("seq").asLong();
                    }
                    if (page.isEmpty() && last) {
                        return null;
                    }
                }
            });
            for (Future<?> f : done) {
                f.get(120, TimeUnit.SECONDS);
            }
            writing.set(false);
            reader.get(60, TimeUnit.SECONDS);

            assertThat(seqs).as("strictly increasing").isSorted().doesNotHaveDuplicates();
            assertThat(seen).doesNotHaveDuplicates().hasSize(writers * jobsPerWriter);
            assertThat(new HashSet<>(seen)).isEqualTo(
                    new HashSet<>(b.jobs().stream().map(NewBatch.NewJob::id).toList()));
        } finally {
            pool.shutdownNow();
        }
    }
}
