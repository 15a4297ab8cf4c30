package dev.atelier.store;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.List;

/**
 * A bucket of an S3-compatible object store (MinIO, Ceph, AWS) holding artifact bytes instead of PostgreSQL
 * (the s3-storage module). Keys are relative to the configured prefix; BlobStorage decides them and the rows that say
 * which objects exist.
 */
public interface ObjectStore {

    /** Where the objects are, for messages and logs: {@code s3://bucket/prefix}. */
    String describe();

    /** Writes the object (replacing one with the same key, which has the same bytes: keys are content addresses). */
    void put(String key, long size, String contentType, Artifacts.NewArtifact.Content content) throws IOException;

    boolean exists(String key) throws IOException;

    /**
     * The object's bytes from {@code first} to {@code last} inclusive; {@code last < 0} reads to the end.
     *
     * @throws java.io.FileNotFoundException when there is no such object
     */
    InputStream open(String key, long first, long last) throws IOException;

    /** Deletes these objects; keys without an object are skipped. */
    void delete(Collection<String> keys) throws IOException;

    /** One object as listed: its key and when it was last written. */
    record Listed(String key, Instant lastModified) {
    }

    /** Up to {@code limit} objects whose keys start with {@code prefix}, in key order after {@code after} (or from the first). */
    List<Listed> list(String prefix, String after, int limit) throws IOException;

    /** A URL that reads the object without credentials for {@code ttl}, served with this type and file name. */
    URI presign(String key, String contentType, String contentDisposition, Duration ttl);
}
