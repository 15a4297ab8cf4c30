package dev.atelier.store;

import static dev.atelier.store.Rows.*;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;
import java.util.UUID;
import javax.sql.DataSource;

/**
 * Stores submitted batches and their jobs (the gateway's intake), then wakes the executors. Job SQL lives in this
 * package only; see package-info for what every operation here shares.
 */
@ApplicationScoped
public class JobIntake {

    private final DataSource dataSource;

    @Inject
    public JobIntake(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    /**
     * The answer to an intake: the stored batch, or the earlier one with the same idempotency key.
     *
     * @param batchGone the earlier batch was deleted since (its key outlives it for 24 hours)
     */
    public record Intake(UUID batchId, boolean created, String storedRequestHash, boolean batchGone) {
    }

    // The key's row is written first: a second submit with the same key waits here for the first one's commit, then
    // finds its row.
    private static final String CLAIM_IDEMPOTENCY_KEY = """
            insert into idempotency_key (scope, key, batch_id, request_hash) values (?, ?, ?, ?)
            on conflict (scope, key) do nothing
            """;

    private static final String FIND_BY_IDEMPOTENCY_KEY = """
            select k.batch_id, k.request_hash, not exists (select 1 from batch b where b.id = k.batch_id) as gone
            from idempotency_key k where k.scope = ? and k.key = ?
            """;

    private static final String INSERT_BATCH = """
            insert into batch (id, name, mode, priority, labels, max_attempts, retry_delay_ms, retry_backoff,
                               job_count, submitted_by)
            values (?, ?, ?, ?, ?::jsonb, ?, ?, ?, ?, ?)
            """;

    // One statement whatever the batch size: the jobs travel as arrays.
    private static final String INSERT_JOBS = """
            insert into job (id, batch_id, position, key, priority, sequential, kind, type, model, model_key, crew, task,
                             spec, timeout_ms, max_attempts, after_keys, upstreams_left, has_dependents, spec_template,
                             checkpoints)
            select j.id, ?, j.position - 1, j.key, j.priority, ?, split_part(j.type, '.', 1), j.type, j.model,
                   j.model_key, j.crew, j.task, j.spec::jsonb, j.timeout_ms, j.max_attempts,
                   string_to_array(nullif(j.after_keys, ''), ' '), -- null when it waits for none: no bytes per job
                   coalesce(cardinality(string_to_array(nullif(j.after_keys, ''), ' ')), 0), j.has_dependents,
                   case when j.templated then j.spec::jsonb end,
                   -- the checkpoint files a workflow loads: only an executor with them all may claim it
                   case when j.type = 'comfyui.workflow' then array(
                       select distinct c from jsonb_array_elements_text(jsonb_path_query_array(j.spec::jsonb,
                           'strict $.workflow.* ? (exists(@.inputs.ckpt_name)).inputs.ckpt_name ? (@.type() == "string")')) as c)
                   else '{}' end
            from unnest(?::uuid[], ?::text[], ?::int[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[],
                        ?::text[], ?::bigint[], ?::int[], ?::text[], ?::bool[], ?::bool[]) with ordinality
                 as j(id, key, priority, type, model, model_key, crew, task, spec, timeout_ms, max_attempts,
                      after_keys, has_dependents, templated, position)
            """;

    // The edges of a pipeline, from the keys each job waits for (keys hold no spaces: job_key_format).
    private static final String INSERT_UPSTREAMS = """
            insert into job_upstream (job_id, upstream_id)
            select d.id, u.id
            from job d
                 cross join unnest(d.after_keys) as k(key)
                 join job u on u.batch_id = d.batch_id and u.key = k.key
            where d.batch_id = ? and d.upstreams_left > 0
            """;

    /**
     * Stores a batch and all its jobs in one transaction, then wakes the executors. With an idempotency key
     * already used in the same scope, nothing is stored and the earlier batch is answered.
     */
    public Intake insertBatch(NewBatch batch) {
        return Transactions.inTransaction(dataSource, "insert batch", c -> {
            if (batch.idempotencyKey() != null) {
                String scope = nullToEmpty(batch.submittedBy());
                try (PreparedStatement ps = c.prepareStatement(CLAIM_IDEMPOTENCY_KEY)) {
                    ps.setString(1, scope);
                    ps.setString(2, batch.idempotencyKey());
                    ps.setObject(3, batch.id());
                    ps.setString(4, batch.requestHash());
                    if (ps.executeUpdate() == 0) {
                        return earlierBatch(c, scope, batch.idempotencyKey());
                    }
                }
            }
            try (PreparedStatement ps = c.prepareStatement(INSERT_BATCH)) {
                int i = 0;
                ps.setObject(++i, batch.id());
                ps.setString(++i, batch.name());
                ps.setString(++i, batch.mode().wire());
                ps.setInt(++i, batch.priority());
                ps.setString(++i, batch.labelsJson() == null ? "{}" : batch.labelsJson());
                ps.setInt(++i, batch.maxAttempts());
                ps.setLong(++i, batch.retryDelay().toMillis());
                ps.setDouble(++i, batch.retryBackoff());
                ps.setInt(++i, batch.jobs().size());
                ps.setString(++i, batch.submittedBy());
                ps.executeUpdate();
            }
            List<NewBatch.NewJob> jobs = batch.jobs();
            int n = jobs.size();
            UUID[] ids = new UUID[n];
            String[] keys = new String[n], types = new String[n], models = new String[n], modelKeys = new String[n],
                    crews = new String[n], tasks = new String[n], specs = new String[n];
            Integer[] priorities = new Integer[n], maxAttempts = new Integer[n];
            Long[] timeouts = new Long[n];
            String[] afterKeys = new String[n];
            Boolean[] hasDependents = new Boolean[n], templated = new Boolean[n];
            java.util.Set<String> upstreams = new java.util.HashSet<>(), batchKeys = new java.util.HashSet<>();
            for (NewBatch.NewJob job : jobs) {
                upstreams.addAll(job.after());
                batchKeys.add(job.key());
            }
            for (int k = 0; k < n; k++) {
                NewBatch.NewJob job = jobs.get(k);
                ids[k] = job.id();
                keys[k] = job.key();
                priorities[k] = job.priority();
                types[k] = job.type();
                models[k] = job.model();
                modelKeys[k] = ModelNames.key(job.model());
                crews[k] = job.crew();
                tasks[k] = job.task();
                specs[k] = job.specJson();
                timeouts[k] = job.timeout().toMillis();
                maxAttempts[k] = job.maxAttempts() == null ? batch.maxAttempts() : job.maxAttempts();
                afterKeys[k] = String.join(" ", job.after());
                hasDependents[k] = upstreams.contains(job.key());
                templated[k] = !job.after().isEmpty() && PipelineTemplates.hasTemplates(job.specJson(), batchKeys);
            }
            try (PreparedStatement ps = c.prepareStatement(INSERT_JOBS)) {
                int i = 0;
                ps.setObject(++i, batch.id());
                ps.setBoolean(++i, batch.mode() == BatchMode.SEQUENTIAL);
                ps.setArray(++i, c.createArrayOf("uuid", ids));
                ps.setArray(++i, c.createArrayOf("text", keys));
                ps.setArray(++i, c.createArrayOf("int4", priorities));
                ps.setArray(++i, c.createArrayOf("text", types));
                ps.setArray(++i, c.createArrayOf("text", models));
                ps.setArray(++i, c.createArrayOf("text", modelKeys));
                ps.setArray(++i, c.createArrayOf("text", crews));
                ps.setArray(++i, c.createArrayOf("text", tasks));
                ps.setArray(++i, c.createArrayOf("text", specs));
                ps.setArray(++i, c.createArrayOf("int8", timeouts));
                ps.setArray(++i, c.createArrayOf("int4", maxAttempts));
                ps.setArray(++i, c.createArrayOf("text", afterKeys));
                ps.setArray(++i, c.createArrayOf("bool", hasDependents));
                ps.setArray(++i, c.createArrayOf("bool", templated));
                ps.executeUpdate();
            }
            if (!upstreams.isEmpty()) {
                int edges = jobs.stream().mapToInt(job -> job.after().size()).sum();
                try (PreparedStatement ps = c.prepareStatement(INSERT_UPSTREAMS)) {
                    ps.setObject(1, batch.id());
                    if (ps.executeUpdate() != edges) { // a job would wait forever for a key not in the batch
                        throw new IllegalArgumentException("a job of batch " + batch.id()
                                + " waits for a key that no job of the batch has");
                    }
                }
            }
            notifyWork(c);
            return new Intake(batch.id(), true, batch.requestHash(), false);
        });
    }

    private static Intake earlierBatch(Connection c, String scope, String key) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(FIND_BY_IDEMPOTENCY_KEY)) {
            ps.setString(1, scope);
            ps.setString(2, key);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    throw new IllegalStateException("idempotency key conflict but no batch holds it");
                }
                return new Intake(rs.getObject("batch_id", UUID.class), false, rs.getString("request_hash"),
                        rs.getBoolean("gone"));
            }
        }
    }
}
