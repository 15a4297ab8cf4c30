package dev.atelier.store;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Instance;
import jakarta.inject.Inject;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import javax.sql.DataSource;

/** Files jobs produced (ComfyUI outputs), looked up by id only: no name from a client ever reaches a path. */
@ApplicationScoped
public class Artifacts {

    /** An artifact without its bytes. */
    public record ArtifactInfo(UUID id, UUID jobId, UUID batchId, int attempt, String name, String contentType,
                               long size, String sha256, Instant createdAt, String jobKey) {
    }

    /** An artifact and where its bytes are (PostgreSQL or the object store). */
    public record ArtifactFile(ArtifactInfo info, BlobStorage.Bytes bytes) {

        /** All its bytes, read into memory: for files known to be small (max-bytes bounds every artifact). */
        public byte[] data() {
            try (InputStream in = bytes.open(0, -1)) {
                return in.readAllBytes();
            } catch (IOException e) {
                throw new UncheckedIOException("could not read artifact " + info.id() + ": " + e.getMessage(), e);
            }
        }
    }

    private static final String COLUMNS = """
            a.id, a.job_id, j.batch_id, a.attempt, a.name, a.content_type, a.size, a.sha256, a.created_at, j.key""";

    private static final String ONE = """
            select %s, b.data from artifact a join job j on j.id = a.job_id join artifact_blob b on b.sha256 = a.sha256
            where a.id = ?""".formatted(COLUMNS);

    // fenced: only the attempt holding the lease adds outputs; collecting the same output again adds nothing
    private static final String STORE_ARTIFACT = """
            with held as (select j.id from job j where j.id = ? and j.lease_token = ? and j.state = 'running'),
            added as (
                insert into artifact (id, job_id, attempt, name, content_type, size, sha256)
                select ?, held.id, ?, ?, ?, ?, ? from held
                on conflict (job_id, name, sha256) do nothing
                returning id)
            select id from added
            union all
            select a.id from artifact a, held where a.job_id = held.id and a.name = ? and a.sha256 = ?
            """;

    private final DataSource dataSource;
    private final BlobStorage storage;

    /** Bytes in PostgreSQL, or in the object store when a service has one (the s3-storage module's producer). */
    @Inject
    public Artifacts(DataSource dataSource, Instance<ObjectStore> objectStore) {
        this(dataSource, new BlobStorage(objectStore.isResolvable() ? objectStore.get() : null));
    }

    public Artifacts(DataSource dataSource) {
        this(dataSource, BlobStorage.inPostgres());
    }

    public Artifacts(DataSource dataSource, BlobStorage storage) {
        this.dataSource = dataSource;
        this.storage = storage;
    }

    /** Where new bytes go; deletion and maintenance collect through the same. */
    public BlobStorage storage() {
        return storage;
    }

    /**
     * Moves up to {@code limit} blobs and thumbnails kept in PostgreSQL to the object store, one per transaction (a
     * no-op without one): a move stopped anywhere goes on where it stopped, and every artifact reads the same meanwhile.
     *
     * @return how many were moved
     */
    public int moveToObjectStore(int limit) {
        return storage.moveToObjectStore(dataSource, limit);
    }

    /**
     * A file to store for a job: its name as the backend gave it, its type, and its content, read once from
     * {@code content} as a stream (an executor downloads outputs to a file first, so no output is ever held whole in
     * memory). {@code size} and {@code sha256} are the content's.
     */
    public record NewArtifact(String name, String contentType, long size, String sha256, Content content) {

        /** Opens the content; called only when its bytes are not stored yet, and again if a write is retried. */
        public interface Content {
            InputStream open() throws IOException;
        }

        /** A small file already in memory (tests, generated text). */
        public static NewArtifact of(String name, String contentType, byte[] data) {
            return new NewArtifact(name, contentType, data.length, Artifacts.sha256(data), () -> new ByteArrayInputStream(data));
        }
    }

    /**
     * Stores an attempt's outputs, each with its digest; bytes already stored (by any job) are not stored again.
     * Fenced by the lease token.
     *
     * @return the stored artifacts in the order given, or empty when the lease is no longer this attempt's
     */
    public Optional<List<ArtifactInfo>> store(UUID jobId, UUID leaseToken, int attempt, List<NewArtifact> files) {
        return Transactions.inTransaction(dataSource, "store artifacts", c -> {
            List<ArtifactInfo> stored = new ArrayList<>();
            for (NewArtifact file : files) {
                String sha256 = file.sha256();
                storage.store(c, file);
                UUID id;
                try (PreparedStatement ps = c.prepareStatement(STORE_ARTIFACT)) {
                    ps.setObject(1, jobId);
                    ps.setObject(2, leaseToken);
                    ps.setObject(3, TimeOrderedIds.next());
                    ps.setInt(4, attempt);
                    ps.setString(5, StorableText.clean(file.name()));
                    ps.setString(6, StorableText.clean(file.contentType()));
                    ps.setLong(7, file.size());
                    ps.setString(8, sha256);
                    ps.setString(9, StorableText.clean(file.name()));
                    ps.setString(10, sha256);
                    try (ResultSet rs = ps.executeQuery()) {
                        if (!rs.next()) {
                            c.rollback();
                            return Optional.<List<ArtifactInfo>>empty();
                        }
                        id = rs.getObject(1, UUID.class);
                    }
                }
                try (PreparedStatement ps = c.prepareStatement("select " + COLUMNS
                        + " from artifact a join job j on j.id = a.job_id where a.id = ?")) {
                    ps.setObject(1, id);
                    try (ResultSet rs = ps.executeQuery()) {
                        rs.next();
                        stored.add(info(rs));
                    }
                }
            }
            return Optional.of(stored);
        });
    }

    static String sha256(byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every Java runtime", e);
        }
    }

    /** A smaller picture of a stored image, made once per size (V17__thumbnails.sql). */
    public record Thumbnail(String contentType, byte[] data) {
    }

    /** The thumbnail of this size made earlier from these bytes, if any. */
    public Optional<Thumbnail> thumbnail(String sha256, int size) {
        return Transactions.inTransaction(dataSource, "read thumbnail", c -> storage.thumbnail(c, sha256, size));
    }

    /** Keeps a thumbnail made from the blob {@code sha256} (a no-op if one of this size is there already). */
    public void storeThumbnail(String sha256, int size, Thumbnail thumbnail) {
        Transactions.inTransaction(dataSource, "store thumbnail", c -> {
            storage.storeThumbnail(c, sha256, size, thumbnail);
            return null;
        });
    }

    private static final String INFO = """
            select %s from artifact a join job j on j.id = a.job_id where a.id = ?""".formatted(COLUMNS);

    /** An artifact without its bytes. */
    public Optional<ArtifactInfo> info(UUID id) {
        return Transactions.inTransaction(dataSource, "read artifact info", c -> {
            try (PreparedStatement ps = c.prepareStatement(INFO)) {
                ps.setObject(1, id);
                try (ResultSet rs = ps.executeQuery()) {
                    return rs.next() ? Optional.of(info(rs)) : Optional.empty();
                }
            }
        });
    }

    public Optional<ArtifactFile> find(UUID id) {
        return Transactions.inTransaction(dataSource, "read artifact", c -> {
            try (PreparedStatement ps = c.prepareStatement(ONE)) {
                ps.setObject(1, id);
                try (ResultSet rs = ps.executeQuery()) {
                    if (!rs.next()) {
                        return Optional.empty();
                    }
                    ArtifactInfo info = info(rs);
                    return Optional.of(new ArtifactFile(info, storage.bytes(info.sha256(), info.size(), rs.getBytes(11))));
                }
            }
        });
    }

    /**
     * A page of artifacts, newest first, without their bytes.
     *
     * @param batchId only this batch's, or null
     * @param jobId   only this job's, or null
     * @param after   the id of the last artifact of the previous page, or null
     */
    public List<ArtifactInfo> list(UUID batchId, UUID jobId, UUID after, int limit) {
        return list(batchId, jobId, Map.of(), after, limit);
    }

    /** The same, also only of batches carrying every one of {@code labels} (the dashboard's gallery filter). */
    public List<ArtifactInfo> list(UUID batchId, UUID jobId, Map<String, String> labels, UUID after, int limit) {
        return Transactions.inTransaction(dataSource, "list artifacts", c -> {
            StatementParts sql = new StatementParts("select " + COLUMNS + " from artifact a join job j on j.id = a.job_id where true");
            if (batchId != null) {
                sql.where("j.batch_id = ?", batchId);
            }
            if (jobId != null) {
                sql.where("a.job_id = ?", jobId);
            }
            if (!labels.isEmpty()) {
                sql.where("j.batch_id in (select b.id from batch b where b.labels @> jsonb_object(?::text[], ?::text[]))",
                        c.createArrayOf("text", labels.keySet().toArray()), c.createArrayOf("text", labels.values().toArray()));
            }
            if (after != null) {
                sql.where("(a.created_at, a.id) < (select p.created_at, p.id from artifact p where p.id = ?)", after);
            }
            sql.append(" order by a.created_at desc, a.id desc limit ?", limit);
            List<ArtifactInfo> page = new ArrayList<>();
            try (PreparedStatement ps = sql.prepare(c); ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    page.add(info(rs));
                }
            }
            return page;
        });
    }

    private static ArtifactInfo info(ResultSet rs) throws SQLException {
        return new ArtifactInfo(rs.getObject(1, UUID.class), rs.getObject(2, UUID.class), rs.getObject(3, UUID.class),
                rs.getInt(4), rs.getString(5), rs.getString(6), rs.getLong(7), rs.getString(8),
                rs.getObject(9, OffsetDateTime.class).toInstant(), rs.getString(10));
    }
}
