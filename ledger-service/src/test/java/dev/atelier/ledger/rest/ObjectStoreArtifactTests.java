package dev.atelier.ledger.rest;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;

import dev.atelier.ledger.LedgerData;
import dev.atelier.s3.S3TestServer;
import dev.atelier.store.Artifacts;
import dev.atelier.store.BatchMode;
import dev.atelier.store.testing.Batches;
import dev.atelier.store.testing.PostgresTestResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import jakarta.inject.Inject;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The ledger with {@code atelier.artifacts.storage=s3} against a real S3 API server: what an executor stores goes to
 * the bucket (no bytes in PostgreSQL), and the ledger serves it whole, in part, and as a thumbnail kept there too.
 */
@QuarkusTest
@QuarkusTestResource(value = PostgresTestResource.class, restrictToAnnotatedClass = true)
@QuarkusTestResource(value = S3TestServer.class, restrictToAnnotatedClass = true)
@TestProfile(ObjectStoreArtifactTests.InABucket.class)
class ObjectStoreArtifactTests {

    public static class InABucket implements QuarkusTestProfile {
    }

    @Inject
    LedgerData data;

    @Inject
    Artifacts artifacts;

    @Test
    void bytesStoredInTheBucketAreServedWholeInPartAndAsAThumbnail() throws Exception {
        assertThat(artifacts.storage().usesObjectStore()).as("the producer's store, chosen by the setting").isTrue();
        data.store(Batches.batch(BatchMode.PARALLEL).jobs(1, 1, "comfyui.workflow", null));
        var job = data.claimComfy("executor-comfy", 1).get(0);
        java.awt.image.BufferedImage image = new java.awt.image.BufferedImage(600, 300,
                java.awt.image.BufferedImage.TYPE_INT_RGB);
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        javax.imageio.ImageIO.write(image, "png", out);
        byte[] png = out.toByteArray();
        var stored = artifacts.store(job.id(), job.leaseToken(), job.attempt(),
                List.of(Artifacts.NewArtifact.of("Jade_00001_.png", "image/png", png))).orElseThrow().get(0);
        assertThat(data.inspect().count("select count(*) from artifact_blob where data is null")).isEqualTo(1);

        String url = "/api/v1/artifacts/" + stored.id();
        assertThat(given().get(url).then().statusCode(200).contentType("image/png")
                .header("ETag", "\"" + stored.sha256() + "\"").extract().asByteArray()).isEqualTo(png);
        assertThat(given().header("Range", "bytes=1-3").get(url).then().statusCode(206).extract().asByteArray())
                .isEqualTo(new byte[] {'P', 'N', 'G'});
        byte[] thumbnail = given().queryParam("size", 128).get(url).then().statusCode(200).contentType("image/png")
                .extract().asByteArray();
        assertThat(javax.imageio.ImageIO.read(new java.io.ByteArrayInputStream(thumbnail)).getWidth()).isEqualTo(128);
        assertThat(data.inspect().count("select count(*) from artifact_thumbnail where data is null")).isEqualTo(1);
        assertThat(given().queryParam("size", 128).get(url).then().statusCode(200).extract().asByteArray())
                .as("read back from the bucket").isEqualTo(thumbnail);

        // bytes lost behind Atelier's back (a bucket emptied by hand): a clear 500, not a 200 cut short
        artifacts.storage().objectStore().orElseThrow().delete(List.of("blobs/" + stored.sha256()));
        given().get(url).then().statusCode(500).contentType("application/problem+json")
                .body("detail", org.hamcrest.Matchers.containsString("bytes of artifact " + stored.id() + " are missing"));
    }
}
