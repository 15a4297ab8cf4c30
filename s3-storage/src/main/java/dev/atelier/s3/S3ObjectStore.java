package dev.atelier.s3;

import dev.atelier.store.Artifacts;
import dev.atelier.store.ObjectStore;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3Configuration;
import software.amazon.awssdk.services.s3.model.GetObjectRequest;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Response;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.presigner.S3Presigner;

/**
 * Artifact bytes in an S3-compatible bucket, through the AWS SDK with the JDK's HTTP client. Checksums are sent and
 * checked only where S3 requires them: MinIO and Ceph releases before 2025 refuse the SDK's newer default.
 */
public final class S3ObjectStore implements ObjectStore, AutoCloseable {

    private final S3Client client;
    private final S3Presigner presigner;
    private final String bucket;
    private final String prefix;

    private S3ObjectStore(S3Client client, S3Presigner presigner, String bucket, String prefix) {
        this.client = client;
        this.presigner = presigner;
        this.bucket = bucket;
        this.prefix = prefix;
    }

    /** A store for these settings; the bucket must exist (the cluster's object store makes it, not each pod). */
    public static S3ObjectStore create(StorageConfig.S3 config) {
        String bucket = config.bucket().orElseThrow(() -> new IllegalArgumentException(
                "atelier.artifacts.s3.bucket is required with atelier.artifacts.storage=s3"));
        AwsCredentialsProvider credentials = config.accessKeyId().isPresent()
                ? StaticCredentialsProvider.create(AwsBasicCredentials.create(config.accessKeyId().get(),
                        config.secretAccessKey().orElseThrow(() -> new IllegalArgumentException(
                                "atelier.artifacts.s3.secret-access-key is required with an access key id"))))
                : DefaultCredentialsProvider.builder().build();
        Region region = Region.of(config.region());
        S3Configuration s3 = S3Configuration.builder().pathStyleAccessEnabled(config.pathStyle()).build();
        var clientBuilder = S3Client.builder()
                .httpClient(UrlConnectionHttpClient.builder()
                        .connectionTimeout(Duration.ofSeconds(5))
                        .socketTimeout(Duration.ofSeconds(60))
                        .build())
                .region(region)
                .credentialsProvider(credentials)
                .serviceConfiguration(s3)
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED);
        var presignerBuilder = S3Presigner.builder().region(region).credentialsProvider(credentials)
                .serviceConfiguration(s3);
        config.endpoint().ifPresent(endpoint -> {
            clientBuilder.endpointOverride(endpoint);
            presignerBuilder.endpointOverride(endpoint);
        });
        return new S3ObjectStore(clientBuilder.build(), presignerBuilder.build(), bucket, config.prefix());
    }

    @Override
    public String describe() {
        return "s3://" + bucket + "/" + prefix;
    }

    @Override
    public void put(String key, long size, String contentType, Artifacts.NewArtifact.Content content) throws IOException {
        // the content is opened again if the SDK retries the request
        RequestBody body = RequestBody.fromContentProvider(() -> {
            try {
                return content.open();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }, size, contentType);
        call(() -> client.putObject(r -> r.bucket(bucket).key(prefix + key).contentType(contentType)
                .contentLength(size), body));
    }

    @Override
    public boolean exists(String key) throws IOException {
        try {
            client.headObject(r -> r.bucket(bucket).key(prefix + key));
            return true;
        } catch (NoSuchKeyException e) {
            return false;
        } catch (S3Exception e) {
            if (e.statusCode() == 404) { // HEAD answers have no body, so no error code to map to NoSuchKey
                return false;
            }
            throw failure(e);
        } catch (SdkException e) {
            throw failure(e);
        }
    }

    @Override
    public InputStream open(String key, long first, long last) throws IOException {
        GetObjectRequest.Builder request = GetObjectRequest.builder().bucket(bucket).key(prefix + key);
        if (first > 0 || last >= 0) {
            request.range("bytes=" + first + "-" + (last >= 0 ? last : ""));
        }
        try {
            return client.getObject(request.build());
        } catch (NoSuchKeyException e) {
            throw new FileNotFoundException("no object " + prefix + key + " in bucket " + bucket);
        } catch (SdkException e) {
            throw failure(e);
        }
    }

    // One request per key: DeleteObjects needs a checksum header that S3Proxy, and MinIO and Ceph releases before
    // 2025, refuse (501). A collection deletes a blob and its few thumbnails at a time.
    @Override
    public void delete(Collection<String> keys) throws IOException {
        for (String key : keys) {
            call(() -> client.deleteObject(r -> r.bucket(bucket).key(prefix + key)));
        }
    }

    @Override
    public List<Listed> list(String keyPrefix, String after, int limit) throws IOException {
        ListObjectsV2Response page = call(() -> client.listObjectsV2(r -> {
            r.bucket(bucket).prefix(prefix + keyPrefix).maxKeys(limit);
            if (after != null) {
                r.startAfter(prefix + after);
            }
        }));
        List<Listed> listed = new ArrayList<>();
        page.contents().forEach(o -> listed.add(new Listed(o.key().substring(prefix.length()), o.lastModified())));
        return listed;
    }

    @Override
    public URI presign(String key, String contentType, String contentDisposition, Duration ttl) {
        return URI.create(presigner.presignGetObject(p -> p.signatureDuration(ttl).getObjectRequest(g -> g.bucket(bucket)
                .key(prefix + key).responseContentType(contentType).responseContentDisposition(contentDisposition)))
                .url().toString());
    }

    /** Whether the bucket answers: for readiness. */
    public void check() throws IOException {
        call(() -> client.headBucket(r -> r.bucket(bucket)));
    }

    @Override
    public void close() {
        client.close();
        presigner.close();
    }

    private interface Call<T> {
        T run();
    }

    private <T> T call(Call<T> call) throws IOException {
        try {
            return call.run();
        } catch (SdkException | UncheckedIOException e) {
            throw failure(e);
        }
    }

    private IOException failure(RuntimeException e) {
        if (e instanceof UncheckedIOException io) {
            return io.getCause();
        }
        String status = e instanceof S3Exception s3 ? " (HTTP " + s3.statusCode() + ")" : "";
        return new IOException(describe() + status + ": " + e.getMessage(), e);
    }
}
