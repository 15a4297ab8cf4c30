package dev.atelier.s3;

import static dev.atelier.store.testing.Batches.batch;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.atelier.store.Artifacts;
import dev.atelier.store.Artifacts.ArtifactInfo;
import dev.atelier.store.Artifacts.NewArtifact;
import dev.atelier.store.AttemptOutcome;
import dev.atelier.store.AttemptOutcomes;
import dev.atelier.store.BatchDeletion;
import dev.atelier.store.BatchMode;
import dev.atelier.store.BlobStorage;
import dev.atelier.store.ClaimedJob;
import dev.atelier.store.JobClaims;
import dev.atelier.store.JobIntake;
import dev.atelier.store.NewBatch;
import dev.atelier.store.ObjectStore;
import dev.atelier.store.StoreException;
import dev.atelier.store.testing.Inspect;
import dev.atelier.store.testing.TestPostgres;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import javax.sql.DataSource;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Artifact bytes in a real S3 API server (S3Proxy over jclouds' in-memory store, in this JVM) and their rows in a real
 * PostgreSQL: stored once per content, read whole or in part, presigned, collected with their last reference, orphans
 * found, PostgreSQL's blobs moved over.
 */
class S3StorageTests {

    private static final String EXECUTOR = "executor-0-test";

    private DataSource dataSource;
    private Inspect inspect;
    private JobIntake intake;
    private JobClaims claims;
    private S3ObjectStore objects;
    private String prefix;

    @BeforeEach
    void freshDatabaseAndPrefix() {
        dataSource = TestPostgres.get().newDatabase().dataSource();
        inspect = new Inspect(dataSource);
        intake = new JobIntake(dataSource);
        claims = new JobClaims(dataSource);
        prefix = "test-" + UUID.randomUUID() + "/"; // each test its own corner of the bucket
        objects = S3ObjectStore.create(settings(S3TestServer.endpoint(), prefix));
    }

    static StorageConfig.S3 settings(URI endpoint, String prefix) {
        return new StorageConfig.S3() {
            public Optional<URI> endpoint() {
                return Optional.of(endpoint);
            }

            public String region() {
                return "us-east-1";
            }

            public Optional<String> bucket() {
                return Optional.of(S3TestServer.BUCKET);
            }

            public String prefix() {
                return prefix;
            }

            public Optional<String> accessKeyId() {
                return Optional.of(S3TestServer.ACCESS_KEY);
            }

            public Optional<String> secretAccessKey() {
                return Optional.of(S3TestServer.SECRET_KEY);
            }

            public boolean pathStyle() {
                return true;
            }

            public Optional<Duration> presign() {
                return Optional.empty();
            }
        };
    }

    private List<String> keys(String under) throws IOException {
        return objects.list(under, null, 1000).stream().map(ObjectStore.Listed::key).toList();
    }

    /** A batch of one ComfyUI job that stored these outputs, finished. */
    private UUID finishedBatchWithOutputs(Artifacts artifacts, byte[]... outputs) {
        NewBatch b = batch(BatchMode.PARALLEL).jobs(1, 1, "comfyui.workflow", null).build();
        intake.insertBatch(b);
        ClaimedJob job = claims.claim(EXECUTOR, Map.of("comfyui", 1), List.of(), Duration.ofSeconds(30), null).get(0);
        for (int i = 0; i < outputs.length; i++) {
            artifacts.store(job.id(), job.leaseToken(), job.attempt(),
                    List.of(NewArtifact.of("out_" + i + ".png", "image/png", outputs[i]))).orElseThrow();
        }
        new AttemptOutcomes(dataSource).finish(List.of(new AttemptOutcome.Success(job.id(), job.leaseToken(), "{}")), null);
        return b.id();
    }

    private ArtifactInfo onlyArtifactOf(Artifacts artifacts, UUID batchId, String name) {
        return artifacts.list(batchId, null, null, 10).stream().filter(a -> a.name().equals(name)).findFirst().orElseThrow();
    }

    private static String text(InputStream in) throws IOException {
        try (in) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @Test
    void bytesAreStoredOnceByContentReadWholeOrInPartAndCollectedWithTheirLastReference() throws Exception {
        BlobStorage storage = new BlobStorage(objects);
        Artifacts artifacts = new Artifacts(dataSource, storage);
        byte[] shared = "the same pixels, painted twice".getBytes(StandardCharsets.UTF_8);
        byte[] own = "pixels only the first batch made".getBytes(StandardCharsets.UTF_8);

        UUID first = finishedBatchWithOutputs(artifacts, shared, own);
        UUID second = finishedBatchWithOutputs(artifacts, shared);

        // three artifacts, two objects, and no bytes in PostgreSQL
        assertThat(inspect.count("select count(*) from artifact")).isEqualTo(3);
        assertThat(inspect.count("select count(*) from artifact_blob where data is null")).isEqualTo(2);
        assertThat(keys("blobs/")).containsExactlyInAnyOrder("blobs/" + sha256(shared), "blobs/" + sha256(own));

        // whole, in part, and through a presigned URL that needs no credentials
        ArtifactInfo sharedInfo = onlyArtifactOf(artifacts, first, "out_0.png");
        Artifacts.ArtifactFile file = artifacts.find(sharedInfo.id()).orElseThrow();
        assertThat(file.data()).isEqualTo(shared);
        assertThat(text(file.bytes().open(4, 7))).isEqualTo("same");
        assertThat(text(file.bytes().open(23, -1))).isEqualTo("d twice");
        assertThat(file.bytes().objectKey()).contains("blobs/" + sha256(shared));
        URI url = objects.presign(file.bytes().objectKey().get(), "image/png", "inline; filename=\"out_0.png\"",
                Duration.ofMinutes(5));
        HttpResponse<byte[]> fetched = HttpClient.newHttpClient().send(HttpRequest.newBuilder(url).build(),
                HttpResponse.BodyHandlers.ofByteArray());
        assertThat(fetched.statusCode()).isEqualTo(200);
        assertThat(fetched.body()).isEqualTo(shared);
        assertThat(fetched.headers().firstValue("Content-Type")).contains("image/png");

        // a thumbnail of each, kept in the same storage
        artifacts.storeThumbnail(sha256(shared), 256, new Artifacts.Thumbnail("image/png", "small shared".getBytes()));
        artifacts.storeThumbnail(sha256(own), 256, new Artifacts.Thumbnail("image/png", "small own".getBytes()));
        assertThat(artifacts.thumbnail(sha256(own), 256).orElseThrow().data()).isEqualTo("small own".getBytes());
        assertThat(inspect.count("select count(*) from artifact_thumbnail where data is null")).isEqualTo(2);
        assertThat(keys("thumbnails/")).hasSize(2);

        // the first batch goes: its own bytes and their thumbnail go; the shared ones stay for the second batch
        BatchDeletion deletion = new BatchDeletion(dataSource, storage);
        assertThat(deletion.delete(first)).isInstanceOf(BatchDeletion.Deleted.class);
        assertThat(keys("blobs/")).containsExactly("blobs/" + sha256(shared));
        assertThat(keys("thumbnails/")).containsExactly("thumbnails/" + sha256(shared) + "-256");
        ArtifactInfo stillShared = onlyArtifactOf(artifacts, second, "out_0.png");
        assertThat(artifacts.find(stillShared.id()).orElseThrow().data()).isEqualTo(shared);

        // the last reference goes: nothing is left in the bucket or the table
        assertThat(deletion.delete(second)).isInstanceOf(BatchDeletion.Deleted.class);
        assertThat(keys("")).isEmpty();
        assertThat(inspect.count("select count(*) from artifact_blob")).isZero();
    }

    @Test
    void aServiceWithoutTheStoreDeletesTheBatchAndLeavesItsObjectsToTheExecutorsSweep() throws Exception {
        BlobStorage storage = new BlobStorage(objects);
        byte[] image = "an image the gateway cannot reach".getBytes(StandardCharsets.UTF_8);
        UUID batchId = finishedBatchWithOutputs(new Artifacts(dataSource, storage), image);

        // the gateway (no s3-storage module) deletes the batch: nothing fails, the blob waits
        assertThat(new BatchDeletion(dataSource).delete(batchId)).isInstanceOf(BatchDeletion.Deleted.class);
        assertThat(new BatchDeletion(dataSource).collectOrphanBlobs(100)).isZero();
        assertThat(keys("blobs/")).containsExactly("blobs/" + sha256(image));

        // an executor's sweep, with the store, collects row and object together
        assertThat(new BatchDeletion(dataSource, storage).collectOrphanBlobs(100)).isEqualTo(1);
        assertThat(keys("blobs/")).isEmpty();
        assertThat(inspect.count("select count(*) from artifact_blob")).isZero();
    }

    @Test
    void objectsNoRowNamesAreCollectedOnceOldEnoughAndOthersAreLeftAlone() throws Exception {
        BlobStorage storage = new BlobStorage(objects);
        Artifacts artifacts = new Artifacts(dataSource, storage);
        byte[] kept = "kept".getBytes(StandardCharsets.UTF_8);
        finishedBatchWithOutputs(artifacts, kept);
        // what a rolled-back store and a thumbnail of a collected blob leave behind, and a file that is not ours
        byte[] lost = "a store that rolled back".getBytes(StandardCharsets.UTF_8);
        put("blobs/" + sha256(lost), lost);
        put("thumbnails/" + sha256(lost) + "-128", lost);
        put("notes/readme.txt", lost);

        // too young: a writer may be about to commit its row
        assertThat(storage.collectOrphanObjects(dataSource, Instant.now().minus(Duration.ofHours(1)), 100)).isZero();
        assertThat(storage.collectOrphanObjects(dataSource, Instant.now().plus(Duration.ofMinutes(1)), 100)).isEqualTo(2);
        assertThat(keys("")).containsExactlyInAnyOrder("blobs/" + sha256(kept), "notes/readme.txt");
        assertThat(inspect.count("select count(*) from artifact_blob")).isEqualTo(1); // no stand-in row left

        // a page at a time: each call goes on where the last one stopped listing
        for (int i = 0; i < 3; i++) {
            byte[] orphan = ("orphan " + i).getBytes(StandardCharsets.UTF_8);
            put("blobs/" + sha256(orphan), orphan);
        }
        int collected = 0;
        for (int call = 0; call < 4; call++) {
            collected += storage.collectOrphanObjects(dataSource, Instant.now().plus(Duration.ofMinutes(1)), 2);
        }
        assertThat(collected).isEqualTo(3);
        assertThat(keys("blobs/")).containsExactly("blobs/" + sha256(kept));
    }

    @Test
    void blobsKeptInPostgresMoveOverOneAtATimeAndReadTheSameThroughout() throws Exception {
        Artifacts inPostgres = new Artifacts(dataSource);
        byte[] one = "one".getBytes(StandardCharsets.UTF_8);
        byte[] two = "two".getBytes(StandardCharsets.UTF_8);
        UUID batchId = finishedBatchWithOutputs(inPostgres, one, two);
        inPostgres.storeThumbnail(sha256(one), 128, new Artifacts.Thumbnail("image/png", "tiny".getBytes()));

        BlobStorage storage = new BlobStorage(objects);
        Artifacts artifacts = new Artifacts(dataSource, storage);
        // stopped after one: the rest stays readable where it is, and the next round goes on
        assertThat(storage.moveToObjectStore(dataSource, 1)).isEqualTo(1);
        assertThat(inspect.count("select count(*) from artifact_blob where data is null")).isEqualTo(1);
        for (ArtifactInfo a : artifacts.list(batchId, null, null, 10)) {
            assertThat(artifacts.find(a.id()).orElseThrow().data()).isEqualTo(a.name().equals("out_0.png") ? one : two);
        }
        assertThat(storage.moveToObjectStore(dataSource, 10)).isEqualTo(2); // the other blob and the thumbnail
        assertThat(storage.moveToObjectStore(dataSource, 10)).isZero();
        assertThat(inspect.count("select count(*) from artifact_blob where data is not null")).isZero();
        assertThat(keys("")).containsExactlyInAnyOrder("blobs/" + sha256(one), "blobs/" + sha256(two),
                "thumbnails/" + sha256(one) + "-128");
        assertThat(artifacts.thumbnail(sha256(one), 128).orElseThrow().data()).isEqualTo("tiny".getBytes());
        for (ArtifactInfo a : artifacts.list(batchId, null, null, 10)) {
            assertThat(artifacts.find(a.id()).orElseThrow().data()).isEqualTo(a.name().equals("out_0.png") ? one : two);
        }
        // a service without the object store says where the bytes are rather than answering nothing
        ArtifactInfo any = artifacts.list(batchId, null, null, 1).get(0);
        assertThatThrownBy(() -> inPostgres.find(any.id()).orElseThrow().data())
                .hasMessageContaining("object store").hasMessageContaining("atelier.artifacts.storage");
    }

    @Test
    void anObjectStoreThatDoesNotAnswerFailsTheStoreWhichLeavesNothingBehindAndMayBeTriedAgain() throws Exception {
        S3ObjectStore unreachable;
        try (var socket = new java.net.ServerSocket(0)) {
            unreachable = S3ObjectStore.create(settings(URI.create("http://127.0.0.1:" + socket.getLocalPort()), prefix));
        } // closed: connections are refused
        Artifacts artifacts = new Artifacts(dataSource, new BlobStorage(unreachable));
        assertThatThrownBy(() -> finishedBatchWithOutputs(artifacts, "lost?".getBytes(StandardCharsets.UTF_8)))
                .isInstanceOfSatisfying(StoreException.class, e -> {
                    assertThat(e.isTransient()).isTrue();
                    assertThat(e.getMessage()).contains("out_0.png").contains("s3://artifacts/");
                });
        assertThat(inspect.count("select count(*) from artifact")).isZero();
        assertThat(inspect.count("select count(*) from artifact_blob")).isZero();
        unreachable.close();
    }

    private void put(String key, byte[] data) throws IOException {
        objects.put(key, data.length, "application/octet-stream", () -> new ByteArrayInputStream(data));
    }

    private static String sha256(byte[] data) {
        return NewArtifact.of("x", "x", data).sha256();
    }
}
