package dev.atelier.s3;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.net.URI;
import java.time.Duration;
import java.util.Optional;

/** Where artifact bytes are kept (README, "Keeping data"): PostgreSQL, or an S3-compatible bucket. */
@ConfigMapping(prefix = "atelier.artifacts")
public interface StorageConfig {

    /** {@code postgres} (the default, for the local run) or {@code s3}. */
    @WithDefault("postgres")
    String storage();

    S3 s3();

    interface S3 {
        /** The server, e.g. {@code http://minio.storage:9000}; unset: AWS's endpoint for the region. */
        Optional<URI> endpoint();

        @WithDefault("us-east-1")
        String region();

        /** Required with {@code storage=s3}. */
        Optional<String> bucket();

        /** Keys start with it, so one bucket can hold several clusters' objects. */
        @WithDefault("atelier/")
        String prefix();

        /** Unset (with the secret): the SDK's default credentials (environment, web identity, instance profile). */
        Optional<String> accessKeyId();

        Optional<String> secretAccessKey();

        /** {@code bucket} in the path rather than the host name: what MinIO and Ceph serve by default. */
        @WithDefault("true")
        boolean pathStyle();

        /**
         * Artifact reads answer with a redirect to a presigned URL valid this long (the object store serves the
         * bytes); unset: the ledger streams them.
         */
        Optional<Duration> presign();
    }
}
