package dev.atelier.gateway.service;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atelier.api.Problem;
import dev.atelier.api.ProblemException;
import dev.atelier.api.auth.Tokens;
import dev.atelier.store.JobCounts;
import dev.atelier.store.JobIntake;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;
import java.util.UUID;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/** Accepts a batch: backpressure, validation and crew expansion, idempotency, then one transaction. */
@ApplicationScoped
public class BatchIntake {

    /** The stored batch, and whether this request created it (false: an idempotent repeat). */
    public record Accepted(UUID batchId, boolean created) {
    }

    /** 429 with Retry-After: too many jobs are waiting. */
    public static class Busy extends ProblemException {
        public Busy(long open, long ceiling) {
            super(Problem.of(429, open + " jobs are waiting, above this cluster's ceiling of " + ceiling
                    + "; submit again shortly"));
        }
    }

    @Inject
    BatchRequestValidator validator;

    @Inject
    JobIntake store;

    @Inject
    JobCounts counts;

    @Inject
    ObjectMapper mapper;

    @ConfigProperty(name = "atelier.gateway.max-open-jobs", defaultValue = "100000")
    long maxOpenJobs;

    @ConfigProperty(name = "atelier.gateway.open-jobs-cache", defaultValue = "PT1S")
    java.time.Duration openJobsCache;

    private volatile long openJobs = -1;
    private volatile long openJobsReadAt;

    public Accepted accept(JsonNode body, String submittedBy, String idempotencyKey) {
        if (idempotencyKey != null && (idempotencyKey.isEmpty() || idempotencyKey.length() > 200)) {
            throw new ProblemException(Problem.invalid("the Idempotency-Key header is not valid",
                    java.util.List.of(new Problem.FieldError("Idempotency-Key", "must be 1 to 200 characters"))));
        }
        long open = openJobs();
        if (open > maxOpenJobs) {
            throw new Busy(open, maxOpenJobs);
        }
        String hash = idempotencyKey == null ? null : requestHash(body, mapper);
        BatchRequestValidator.Result result = validator.read(body, submittedBy, idempotencyKey, hash);
        if (!result.errors().isEmpty()) {
            var all = new Problem.FieldErrors();
            all.addAll(result.errors());
            all.addAll(result.unknownCrews());
            throw new ProblemException(Problem.invalid("the batch is not valid; nothing was stored", all));
        }
        if (!result.unknownCrews().isEmpty()) {
            throw new ProblemException(new Problem("about:blank", "Not Found", 404,
                    "a job names a crew that does not exist; nothing was stored", result.unknownCrews()));
        }
        JobIntake.Intake intake = store.insertBatch(result.batch());
        if (intake.batchGone()) {
            throw ProblemException.of(409, "the Idempotency-Key '" + idempotencyKey + "' was used for batch "
                    + intake.batchId() + ", which has been deleted since; a key is kept 24 hours after its first use");
        }
        if (!intake.created() && !intake.storedRequestHash().equals(hash)) {
            throw ProblemException.of(409, "the Idempotency-Key '" + idempotencyKey
                    + "' was used for a different batch (" + intake.batchId() + ")");
        }
        if (intake.created()) {
            openJobs = -1; // count again next time
        }
        return new Accepted(intake.batchId(), intake.created());
    }

    /** Open jobs, read from the kept totals at most once per {@code open-jobs-cache}: this runs on every submit. */
    private long openJobs() {
        long now = System.nanoTime();
        if (openJobs < 0 || now - openJobsReadAt > openJobsCache.toNanos()) {
            openJobs = counts.open();
            openJobsReadAt = now;
        }
        return openJobs;
    }

    /**
     * SHA-256 of the body as parsed JSON with sorted keys, so equal bodies hash alike whatever their spacing or key
     * order. Written straight into the digest: a 16 MiB body costs no second copy of itself.
     */
    static String requestHash(JsonNode body, ObjectMapper mapper) {
        MessageDigest sha256 = Tokens.newSha256();
        try (JsonGenerator out = mapper.getFactory().createGenerator(
                new DigestOutputStream(OutputStream.nullOutputStream(), sha256))) {
            writeSorted(body, out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return HexFormat.of().formatHex(sha256.digest());
    }

    private static void writeSorted(JsonNode node, JsonGenerator out) throws IOException {
        if (node.isObject()) {
            List<String> names = new ArrayList<>(node.size());
            node.fieldNames().forEachRemaining(names::add);
            Collections.sort(names);
            out.writeStartObject();
            for (String name : names) {
                out.writeFieldName(name);
                writeSorted(node.get(name), out);
            }
            out.writeEndObject();
        } else if (node.isArray()) {
            out.writeStartArray();
            for (JsonNode item : node) {
                writeSorted(item, out);
            }
            out.writeEndArray();
        } else {
            out.writeTree(node);
        }
    }
}
