package dev.atelier.store;

import java.io.ByteArrayInputStream;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.sql.DataSource;

/**
 * Where artifact bytes live (V18): one {@code artifact_blob} row per sha256, holding the bytes itself (PostgreSQL,
 * the default) or, with data null, naming the object {@code blobs/<sha256>} in the object store; thumbnails alike
 * ({@code thumbnails/<sha256>-<size>}). New bytes go to the object store when there is one.
 *
 * <p>The blob row's lock orders writers and collectors of the same bytes: an object is written only by the
 * transaction that inserted its row (or found its object missing), and deleted only by a transaction holding its row
 * (deleting it, or, for an object with no row, inserting a stand-in), before that transaction commits. So a committed
 * row always has its bytes.
 */
public final class BlobStorage {

    private static final String BLOBS = "blobs/";
    private static final String THUMBNAILS = "thumbnails/";
    private static final Pattern BLOB_KEY = Pattern.compile("blobs/([0-9a-f]{64})");
    private static final Pattern THUMBNAIL_KEY = Pattern.compile("thumbnails/([0-9a-f]{64})-([0-9]{1,4})");

    /** The object store new bytes go to, or null: PostgreSQL. */
    private final ObjectStore objects;

    /** Where collectOrphanObjects stopped listing, per prefix: each call looks at the next page. */
    private final java.util.Map<String, String> listedUpTo = new java.util.concurrent.ConcurrentHashMap<>();

    public BlobStorage(ObjectStore objects) {
        this.objects = objects;
    }

    public static BlobStorage inPostgres() {
        return new BlobStorage(null);
    }

    /** Whether new bytes go to an object store. */
    public boolean usesObjectStore() {
        return objects != null;
    }

    static String blobKey(String sha256) {
        return BLOBS + sha256;
    }

    static String thumbnailKey(String sha256, int size) {
        return THUMBNAILS + sha256 + "-" + size;
    }

    // ---- storing --------------------------------------------------------------------------------------------------

    // The key-share lock keeps a blob found here from being collected before this transaction's artifact points at
    // it; a blob being collected meanwhile is waited for, then stored anew.
    private static final String BLOB_EXISTS = """
            select data is null as in_object_store from artifact_blob where sha256 = ? for key share
            """;

    private static final String STORE_BLOB = """
            insert into artifact_blob (sha256, size, data) values (?, ?, ?) on conflict (sha256) do nothing
            """;

    /** Stores the bytes unless some job stored the same bytes before; in the caller's transaction. */
    void store(Connection c, Artifacts.NewArtifact file) throws SQLException {
        // three tries: an insert that conflicts with a row the select did not see finds it on the next select, unless
        // a collector took it meanwhile
        for (int tries = 0; tries < 3; tries++) {
            Optional<Boolean> inObjectStore = existing(c, file.sha256());
            if (inObjectStore.isPresent()) {
                if (inObjectStore.get() && !objectExists(file)) { // lost by hand, say: written again
                    put(blobKey(file.sha256()), file);
                }
                return;
            }
            if (insert(c, file)) {
                return;
            }
        }
        throw new SQLException("blob " + file.sha256() + " kept being collected while " + file.name() + " was stored",
                "40001");
    }

    private static Optional<Boolean> existing(Connection c, String sha256) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(BLOB_EXISTS)) {
            ps.setString(1, sha256);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.of(rs.getBoolean(1)) : Optional.empty();
            }
        }
    }

    private boolean insert(Connection c, Artifacts.NewArtifact file) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(STORE_BLOB)) {
            ps.setString(1, file.sha256());
            ps.setLong(2, file.size());
            if (objects == null) {
                try (InputStream in = file.content().open()) {
                    ps.setBinaryStream(3, in, file.size());
                    return ps.executeUpdate() == 1;
                } catch (IOException e) {
                    throw ioFailure("could not read " + file.name() + " to store it", e);
                }
            }
            ps.setNull(3, java.sql.Types.BINARY);
            if (ps.executeUpdate() == 0) {
                return false;
            }
        }
        put(blobKey(file.sha256()), file); // our row is not committed: nobody reads or collects the object meanwhile
        return true;
    }

    private boolean objectExists(Artifacts.NewArtifact file) throws SQLException {
        try {
            return objects != null && objects.exists(blobKey(file.sha256()));
        } catch (IOException e) {
            throw ioFailure("could not look for blob " + file.sha256() + " in " + objects.describe(), e);
        }
    }

    private void put(String key, Artifacts.NewArtifact file) throws SQLException {
        if (objects == null) {
            throw new SQLException("blob " + file.sha256() + " is kept in an object store, and this service has none"
                    + " (atelier.artifacts.storage)", "58030");
        }
        try {
            objects.put(key, file.size(), file.contentType(), file.content());
        } catch (IOException e) {
            throw ioFailure("could not store " + file.name() + " in " + objects.describe(), e);
        }
    }

    /** An I/O failure outside the database; the transaction rolls back, and the work may be tried again. */
    static SQLException ioFailure(String what, IOException e) {
        return new SQLException(what + ": " + e.getMessage(), "58030", e);
    }

    // ---- reading --------------------------------------------------------------------------------------------------

    /** The bytes of a blob: those its row holds, or its object. */
    public interface Bytes {
        long size();

        /** From {@code first} to {@code last} inclusive ({@code last < 0}: to the end). */
        InputStream open(long first, long last) throws IOException;

        /** The object store's key, when the bytes are there (for a presigned URL); empty when they are in PostgreSQL. */
        Optional<String> objectKey();
    }

    Bytes bytes(String sha256, long size, byte[] inPostgres) {
        if (inPostgres != null) {
            return new Bytes() {
                public long size() {
                    return inPostgres.length;
                }

                public InputStream open(long first, long last) {
                    int end = last < 0 ? inPostgres.length : (int) Math.min(inPostgres.length, last + 1);
                    int start = (int) Math.min(first, end);
                    return new ByteArrayInputStream(inPostgres, start, end - start);
                }

                public Optional<String> objectKey() {
                    return Optional.empty();
                }
            };
        }
        String key = blobKey(sha256);
        return new Bytes() {
            public long size() {
                return size;
            }

            public InputStream open(long first, long last) throws IOException {
                if (objects == null) {
                    throw new FileNotFoundException("blob " + sha256 + " is kept in an object store, and this service"
                            + " has none (atelier.artifacts.storage)");
                }
                return objects.open(key, first, last);
            }

            public Optional<String> objectKey() {
                return Optional.of(key);
            }
        };
    }

    /** Where presigned URLs come from, when the bytes are in an object store. */
    public Optional<ObjectStore> objectStore() {
        return Optional.ofNullable(objects);
    }

    // ---- thumbnails -----------------------------------------------------------------------------------------------

    private static final String THUMBNAIL = """
            select content_type, data from artifact_thumbnail where sha256 = ? and size = ?
            """;

    // Two ledgers making the same one at once: the first stored wins, the other's is the same picture.
    private static final String STORE_THUMBNAIL = """
            insert into artifact_thumbnail (sha256, size, content_type, data) values (?, ?, ?, ?)
            on conflict (sha256, size) do nothing
            """;

    Optional<Artifacts.Thumbnail> thumbnail(Connection c, String sha256, int size) throws SQLException {
        String contentType;
        byte[] data;
        try (PreparedStatement ps = c.prepareStatement(THUMBNAIL)) {
            ps.setString(1, sha256);
            ps.setInt(2, size);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return Optional.empty();
                }
                contentType = rs.getString(1);
                data = rs.getBytes(2);
            }
        }
        if (data != null) {
            return Optional.of(new Artifacts.Thumbnail(contentType, data));
        }
        if (objects == null) {
            return Optional.empty(); // made again, and kept in PostgreSQL this time
        }
        try (InputStream in = objects.open(thumbnailKey(sha256, size), 0, -1)) {
            return Optional.of(new Artifacts.Thumbnail(contentType, in.readAllBytes()));
        } catch (FileNotFoundException e) {
            return Optional.empty(); // collected meanwhile, or lost: made again
        } catch (IOException e) {
            throw ioFailure("could not read a thumbnail of " + sha256 + " from " + objects.describe(), e);
        }
    }

    // The object is written first: a row committed names an object that is there. One written for a blob collected
    // meanwhile (the foreign key refuses the row) is collected with the other orphans.
    void storeThumbnail(Connection c, String sha256, int size, Artifacts.Thumbnail thumbnail) throws SQLException {
        if (objects != null) {
            byte[] data = thumbnail.data();
            try {
                objects.put(thumbnailKey(sha256, size), data.length, thumbnail.contentType(),
                        () -> new ByteArrayInputStream(data));
            } catch (IOException e) {
                throw ioFailure("could not store a thumbnail of " + sha256 + " in " + objects.describe(), e);
            }
        }
        try (PreparedStatement ps = c.prepareStatement(STORE_THUMBNAIL)) {
            ps.setString(1, sha256);
            ps.setInt(2, size);
            ps.setString(3, thumbnail.contentType());
            if (objects == null) {
                ps.setBytes(4, thumbnail.data());
            } else {
                ps.setNull(4, java.sql.Types.BINARY);
            }
            ps.executeUpdate();
        }
    }

    // ---- collecting -----------------------------------------------------------------------------------------------

    // A blob another artifact still uses stays. If a writer adds an artifact with the same bytes meanwhile, the
    // foreign key refuses this delete rather than losing its blob (the blob stays until the next collection). The
    // thumbnails go with their blob (on delete cascade); the select reads them as they were before. A service
    // without the object store (the gateway) leaves blobs kept there to the executors' sweep.
    private static final String COLLECT_BLOBS = """
            with gone as (
                delete from artifact_blob b
                where b.sha256 = any (?::text[])
                  and not exists (select 1 from artifact a where a.sha256 = b.sha256)
                  and (b.data is not null or ?)
                returning b.sha256, b.data is null as in_object_store)
            select g.sha256, g.in_object_store,
                   array(select t.size from artifact_thumbnail t where t.sha256 = g.sha256 and t.data is null) as thumbnails
            from gone g
            """;

    private static final String ORPHAN_BLOBS = """
            select o.sha256 from artifact_blob o
            where not exists (select 1 from artifact a where a.sha256 = o.sha256)
              and (o.data is not null or ?)
            order by o.sha256
            limit ?
            """;

    /** Deletes the blobs among these that no artifact uses, with their objects, in the caller's transaction. */
    int collect(Connection c, String[] sha256s) throws SQLException {
        List<String> keys = new ArrayList<>();
        int collected = 0;
        try (PreparedStatement ps = c.prepareStatement(COLLECT_BLOBS)) {
            ps.setArray(1, c.createArrayOf("text", sha256s));
            ps.setBoolean(2, objects != null);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    collected++;
                    String sha256 = rs.getString("sha256");
                    if (rs.getBoolean("in_object_store")) {
                        keys.add(blobKey(sha256));
                    }
                    if (objects != null) { // else the orphan sweep of a service with the store finds them
                        for (Integer size : (Integer[]) rs.getArray("thumbnails").getArray()) {
                            keys.add(thumbnailKey(sha256, size));
                        }
                    }
                }
            }
        }
        deleteObjects(keys);
        return collected;
    }

    /** Blobs no artifact uses (left when a collection after a deletion failed), up to {@code limit}, collected. */
    int collectOrphans(Connection c, int limit) throws SQLException {
        List<String> orphans = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement(ORPHAN_BLOBS)) {
            ps.setBoolean(1, objects != null);
            ps.setInt(2, limit);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    orphans.add(rs.getString(1));
                }
            }
        }
        return orphans.isEmpty() ? 0 : collect(c, orphans.toArray(String[]::new));
    }

    // Before the transaction commits, while it holds the rows: a writer of the same bytes waits, then writes anew.
    private void deleteObjects(List<String> keys) throws SQLException {
        if (keys.isEmpty()) {
            return;
        }
        if (objects == null) {
            throw new SQLException("blobs " + keys + " are kept in an object store, and this service has none"
                    + " (atelier.artifacts.storage); they stay", "58030");
        }
        try {
            objects.delete(keys);
        } catch (IOException e) {
            throw ioFailure("could not delete " + keys.size() + " objects from " + objects.describe(), e);
        }
    }

    // A stand-in row, inserted and deleted in the same transaction, holds the sha256 while its object goes: a writer
    // storing the same bytes now either inserted its row first (this one waits, then does nothing) or waits for this
    // transaction and then writes the object anew.
    private static final String HOLD_BLOB = """
            insert into artifact_blob (sha256, size, data) values (?, 0, null) on conflict (sha256) do nothing
            returning sha256
            """;

    private static final String RELEASE_BLOB = """
            delete from artifact_blob where sha256 = ?
            """;

    private static final String THUMBNAIL_KEPT = """
            select 1 from artifact_thumbnail where sha256 = ? and size = ?
            """;

    /**
     * Deletes objects no row names, written before {@code before} (a writer's object is younger than its
     * transaction): those of transactions that rolled back, thumbnails of blobs collected meanwhile. Goes through at
     * most {@code limit} listed objects per call.
     *
     * @return how many objects were deleted
     */
    public int collectOrphanObjects(DataSource dataSource, Instant before, int limit) {
        if (objects == null) {
            return 0;
        }
        int deleted = 0;
        for (String prefix : List.of(BLOBS, THUMBNAILS)) {
            List<ObjectStore.Listed> listed;
            try {
                listed = objects.list(prefix, listedUpTo.get(prefix), limit);
            } catch (IOException e) {
                throw new StoreException("list " + objects.describe(), ioFailure("could not list objects", e));
            }
            // the next call goes on after this page; past the last page, it starts again
            if (listed.size() < limit) {
                listedUpTo.remove(prefix);
            } else {
                listedUpTo.put(prefix, listed.get(listed.size() - 1).key());
            }
            for (ObjectStore.Listed object : listed) {
                if (object.lastModified().isBefore(before)) {
                    deleted += Transactions.inTransaction(dataSource, "collect orphan object", c ->
                            collectIfOrphan(c, object.key()));
                }
            }
        }
        return deleted;
    }

    private int collectIfOrphan(Connection c, String key) throws SQLException {
        Matcher blob = BLOB_KEY.matcher(key);
        if (blob.matches()) {
            try (PreparedStatement ps = c.prepareStatement(HOLD_BLOB)) {
                ps.setString(1, blob.group(1));
                try (ResultSet rs = ps.executeQuery()) {
                    if (!rs.next()) {
                        return 0; // a row names it
                    }
                }
            }
            deleteObjects(List.of(key));
            try (PreparedStatement ps = c.prepareStatement(RELEASE_BLOB)) {
                ps.setString(1, blob.group(1));
                ps.executeUpdate();
            }
            return 1;
        }
        Matcher thumbnail = THUMBNAIL_KEY.matcher(key);
        if (thumbnail.matches()) {
            try (PreparedStatement ps = c.prepareStatement(THUMBNAIL_KEPT)) {
                ps.setString(1, thumbnail.group(1));
                ps.setInt(2, Integer.parseInt(thumbnail.group(2)));
                try (ResultSet rs = ps.executeQuery()) {
                    if (rs.next()) {
                        return 0;
                    }
                }
            }
            deleteObjects(List.of(key));
            return 1;
        }
        return 0; // not ours: left alone
    }

    // ---- moving ---------------------------------------------------------------------------------------------------

    // One blob at a time, held while its bytes are copied: a collector skips nothing it must not, a second mover
    // takes the next one.
    private static final String NEXT_IN_POSTGRES = """
            select sha256, size, data from artifact_blob where data is not null
            order by sha256 limit 1 for update skip locked
            """;

    private static final String MOVED = """
            update artifact_blob set data = null where sha256 = ?
            """;

    private static final String NEXT_THUMBNAIL_IN_POSTGRES = """
            select sha256, size, content_type, data from artifact_thumbnail where data is not null
            limit 1 for update skip locked
            """;

    private static final String THUMBNAIL_MOVED = """
            update artifact_thumbnail set data = null where sha256 = ? and size = ?
            """;

    /**
     * Moves up to {@code limit} blobs (then thumbnails) kept in PostgreSQL to the object store, one per transaction, so
     * a move stopped at any point goes on where it stopped; every blob reads the same throughout.
     *
     * @return how many were moved
     */
    public int moveToObjectStore(DataSource dataSource, int limit) {
        if (objects == null) {
            return 0;
        }
        int moved = 0;
        while (moved < limit && Transactions.inTransaction(dataSource, "move a blob to the object store", this::moveOneBlob)) {
            moved++;
        }
        while (moved < limit && Transactions.inTransaction(dataSource, "move a thumbnail to the object store",
                this::moveOneThumbnail)) {
            moved++;
        }
        return moved;
    }

    private boolean moveOneBlob(Connection c) throws SQLException {
        String sha256;
        byte[] data;
        try (PreparedStatement ps = c.prepareStatement(NEXT_IN_POSTGRES); ResultSet rs = ps.executeQuery()) {
            if (!rs.next()) {
                return false;
            }
            sha256 = rs.getString("sha256");
            data = rs.getBytes("data");
        }
        put(blobKey(sha256), new Artifacts.NewArtifact(sha256, "application/octet-stream", data.length, sha256,
                () -> new ByteArrayInputStream(data)));
        try (PreparedStatement ps = c.prepareStatement(MOVED)) {
            ps.setString(1, sha256);
            ps.executeUpdate();
        }
        return true;
    }

    private boolean moveOneThumbnail(Connection c) throws SQLException {
        String sha256;
        int size;
        Artifacts.Thumbnail thumbnail;
        try (PreparedStatement ps = c.prepareStatement(NEXT_THUMBNAIL_IN_POSTGRES); ResultSet rs = ps.executeQuery()) {
            if (!rs.next()) {
                return false;
            }
            sha256 = rs.getString("sha256");
            size = rs.getInt("size");
            thumbnail = new Artifacts.Thumbnail(rs.getString("content_type"), rs.getBytes("data"));
        }
        byte[] data = thumbnail.data();
        put(thumbnailKey(sha256, size), new Artifacts.NewArtifact(sha256 + "-" + size, thumbnail.contentType(),
                data.length, sha256, () -> new ByteArrayInputStream(data)));
        try (PreparedStatement ps = c.prepareStatement(THUMBNAIL_MOVED)) {
            ps.setString(1, sha256);
            ps.setInt(2, size);
            ps.executeUpdate();
        }
        return true;
    }
}
