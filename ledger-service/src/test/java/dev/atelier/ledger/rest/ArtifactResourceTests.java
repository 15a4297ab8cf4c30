package dev.atelier.ledger.rest;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsInAnyOrder;
import static org.hamcrest.Matchers.equalTo;

import dev.atelier.ledger.LedgerData;
import dev.atelier.store.Artifacts;
import dev.atelier.store.BatchMode;
import dev.atelier.store.NewBatch;
import dev.atelier.store.testing.Batches;
import dev.atelier.store.testing.PostgresTestResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

@QuarkusTest
@QuarkusTestResource(PostgresTestResource.class)
class ArtifactResourceTests {

    /** The first bytes of a PNG, enough to tell it from anything else. */
    private static final byte[] PNG = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};

    @Inject
    LedgerData data;

    @Inject
    Artifacts artifacts;

    private static String sha256(byte[] bytes) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }

    @Test
    void anArtifactIsServedWithItsBytesTypeAndETag() throws Exception {
        NewBatch batch = data.store(Batches.batch(BatchMode.PARALLEL).jobs(1, 1, "comfyui.workflow", null));
        UUID jobId = batch.jobs().get(0).id();
        String sha = sha256(PNG);
        UUID id = data.artifact(jobId, "portrait_00001_.png", "image/png", PNG, sha);

        byte[] body = given().get("/api/v1/artifacts/" + id).then().statusCode(200)
                .contentType("image/png")
                .header("ETag", "\"" + sha + "\"")
                .header("X-Content-Type-Options", "nosniff")
                .header("Content-Disposition", "inline; filename=\"portrait_00001_.png\"")
                .extract().asByteArray();
        assertThat(body).isEqualTo(PNG);

        given().header("If-None-Match", "\"" + sha + "\"").get("/api/v1/artifacts/" + id).then().statusCode(304);

        given().queryParam("job", jobId.toString()).get("/api/v1/artifacts").then().statusCode(200)
                .body("items.id", equalTo(List.of(id.toString())))
                .body("items[0].url", equalTo("/api/v1/artifacts/" + id))
                .body("items[0].sha256", equalTo(sha))
                .body("items[0].size", equalTo(PNG.length));
    }

    @Test
    void theListIsFilteredByTheBatchsLabelsAndNamesEachArtifactsJob() throws Exception {
        String project = "gallery-" + System.nanoTime();
        NewBatch labelled = data.store(Batches.batch(BatchMode.PARALLEL).labels("{\"project\": \"" + project + "\", \"kind\": \"portrait\"}")
                .step("scorpion", 1, "{\"workflow\": {}}"));
        NewBatch other = data.store(Batches.batch(BatchMode.PARALLEL).labels("{\"project\": \"other-" + project + "\"}")
                .jobs(1, 1, "comfyui.workflow", null));
        String sha = sha256(PNG);
        UUID shown = data.artifact(labelled.jobs().get(0).id(), "scorpion_00001_.png", "image/png", PNG, sha);
        data.artifact(other.jobs().get(0).id(), "other_00001_.png", "image/png", PNG, sha);

        given().queryParam("label", "project:" + project).get("/api/v1/artifacts").then().statusCode(200)
                .body("items.id", equalTo(List.of(shown.toString())))
                .body("items[0].job_key", equalTo("scorpion"))
                .body("items[0].batch_id", equalTo(labelled.id().toString()));
        given().queryParam("label", "project:" + project).queryParam("label", "kind:portrait").get("/api/v1/artifacts")
                .then().statusCode(200).body("items.size()", equalTo(1));
        given().queryParam("label", "project:" + project).queryParam("label", "kind:landscape").get("/api/v1/artifacts")
                .then().statusCode(200).body("items.size()", equalTo(0));
        given().queryParam("label", "no-colon").get("/api/v1/artifacts").then().statusCode(400)
                .body("errors[0].field", equalTo("label"));
    }

    @Test
    void whatAnExecutorStoresIsWhatTheLedgerServes() throws Exception {
        data.closeOpenJobs();
        NewBatch batch = data.store(Batches.batch(BatchMode.PARALLEL).jobs(1, 1, "comfyui.workflow", null));
        var job = data.claimComfy("executor-comfy", 1).get(0);
        byte[] first = {(byte) 0x89, 'P', 'N', 'G', 1, 2, 3};
        byte[] second = {(byte) 0x89, 'P', 'N', 'G', 4, 5, 6};
        var stored = artifacts.store(job.id(), job.leaseToken(), job.attempt(), List.of(
                Artifacts.NewArtifact.of("Kitana_00001_.png", "image/png", first),
                Artifacts.NewArtifact.of("Kitana_00002_.png", "image/png", second))).orElseThrow();
        for (int i = 0; i < 2; i++) {
            byte[] body = given().get("/api/v1/artifacts/" + stored.get(i).id()).then().statusCode(200)
                    .contentType("image/png").header("ETag", "\"" + sha256(i == 0 ? first : second) + "\"")
                    .extract().asByteArray();
            assertThat(body).isEqualTo(i == 0 ? first : second);
        }
        given().queryParam("batch", batch.id().toString()).get("/api/v1/artifacts").then().statusCode(200)
                .body("items.name", containsInAnyOrder("Kitana_00001_.png", "Kitana_00002_.png"));
    }

    @Test
    void oneByteRangeIsAnsweredInPartAndOnePastTheEndIsA416() throws Exception {
        NewBatch batch = data.store(Batches.batch(BatchMode.PARALLEL).jobs(1, 1, "comfyui.workflow", null));
        byte[] video = "0123456789abcdef".getBytes(StandardCharsets.UTF_8);
        UUID id = data.artifact(batch.jobs().get(0).id(), "turntable.mp4", "video/mp4", video, sha256(video));
        String url = "/api/v1/artifacts/" + id;

        given().get(url).then().statusCode(200).header("Accept-Ranges", "bytes").header("Content-Length", "16");
        assertThat(given().header("Range", "bytes=2-5").get(url).then().statusCode(206)
                .header("Content-Range", "bytes 2-5/16").header("Content-Length", "4")
                .extract().asString()).isEqualTo("2345");
        assertThat(given().header("Range", "bytes=10-").get(url).then().statusCode(206)
                .header("Content-Range", "bytes 10-15/16").extract().asString()).isEqualTo("abcdef");
        assertThat(given().header("Range", "bytes=-3").get(url).then().statusCode(206)
                .header("Content-Range", "bytes 13-15/16").extract().asString()).isEqualTo("def");
        assertThat(given().header("Range", "bytes=12-99999999999").get(url).then().statusCode(206)
                .extract().asString()).isEqualTo("cdef");
        given().header("Range", "bytes=16-").get(url).then().statusCode(416)
                .header("Content-Range", "bytes */16").contentType("application/problem+json");
        // what is not one range is answered whole (RFC 9110): several, reversed, or another unit
        for (String ignored : List.of("bytes=0-1,4-5", "bytes=5-2", "items=0-1", "bytes=-")) {
            assertThat(given().header("Range", ignored).get(url).then().statusCode(200).extract().asByteArray())
                    .as(ignored).isEqualTo(video);
        }
    }

    @Test
    void aFileThatCouldRunAsAPageIsOnlyEverADownload() throws Exception {
        NewBatch batch = data.store(Batches.batch(BatchMode.PARALLEL).jobs(1, 1, "comfyui.workflow", null));
        byte[] html = "<script>alert(1)</script>".getBytes(StandardCharsets.UTF_8);
        UUID id = data.artifact(batch.jobs().get(0).id(), "../../\"evil\".html", "text/html", html, sha256(html));
        given().get("/api/v1/artifacts/" + id).then().statusCode(200)
                .contentType("application/octet-stream")
                .header("Content-Disposition", "attachment; filename=\"_evil_.html\"")
                .header("Content-Security-Policy", "default-src 'none'; sandbox");
    }

    @Test
    void pathTricksAndUnknownIdsFindNothing() {
        given().get("/api/v1/artifacts/" + UUID.randomUUID()).then().statusCode(404).contentType("application/problem+json");
        given().urlEncodingEnabled(false).get("/api/v1/artifacts/..%2F..%2F..%2Fetc%2Fpasswd").then().statusCode(404);
        given().urlEncodingEnabled(false).get("/api/v1/artifacts/%2e%2e").then().statusCode(404);
        given().get("/api/v1/artifacts/C:\\Windows\\win.ini").then().statusCode(404);
    }

    /** A real PNG of these proportions, a gradient so that scaling has something to average. */
    private static byte[] png(int width, int height) throws Exception {
        java.awt.image.BufferedImage image = new java.awt.image.BufferedImage(width, height,
                java.awt.image.BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                image.setRGB(x, y, (x * 255 / width) << 16 | (y * 255 / height) << 8);
            }
        }
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        javax.imageio.ImageIO.write(image, "png", out);
        return out.toByteArray();
    }

    /** A PNG whose header claims 100,000 x 100,000 pixels (40 GB decoded) in a few dozen bytes. */
    private static byte[] pngBomb() {
        java.nio.ByteBuffer header = java.nio.ByteBuffer.allocate(17);
        header.put("IHDR".getBytes(java.nio.charset.StandardCharsets.US_ASCII)).putInt(100_000).putInt(100_000)
                .put((byte) 8).put((byte) 2).put((byte) 0).put((byte) 0).put((byte) 0);
        java.util.zip.CRC32 crc = new java.util.zip.CRC32();
        crc.update(header.array());
        java.nio.ByteBuffer png = java.nio.ByteBuffer.allocate(8 + 4 + 17 + 4 + 12);
        png.put(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}).putInt(13).put(header.array())
                .putInt((int) crc.getValue()).putInt(0).put("IEND".getBytes(java.nio.charset.StandardCharsets.US_ASCII))
                .putInt(0xAE426082);
        return png.array();
    }

    @Test
    void aThumbnailIsMadeOnceKeptAndNeverMadeOfWhatCannotBeDecodedSafely() throws Exception {
        NewBatch batch = data.store(Batches.batch(BatchMode.PARALLEL).jobs(1, 1, "comfyui.workflow", null));
        UUID jobId = batch.jobs().get(0).id();
        byte[] portrait = png(1024, 512);
        String sha = sha256(portrait);
        UUID id = data.artifact(jobId, "portrait_00001_.png", "image/png", portrait, sha);

        for (int look = 0; look < 2; look++) {
            byte[] small = given().queryParam("size", 256).get("/api/v1/artifacts/" + id).then().statusCode(200)
                    .contentType("image/png").header("ETag", "\"" + sha + "-256\"").extract().asByteArray();
            java.awt.image.BufferedImage read = javax.imageio.ImageIO.read(new java.io.ByteArrayInputStream(small));
            assertThat(read.getWidth()).isEqualTo(256);
            assertThat(read.getHeight()).as("same proportions").isEqualTo(128);
            assertThat(small.length).isLessThan(portrait.length);
        }
        assertThat(data.inspect().count("select count(*) from artifact_thumbnail where sha256 = '" + sha + "'"))
                .as("made once, kept").isEqualTo(1);
        given().header("If-None-Match", "\"" + sha + "-256\"").queryParam("size", 256).get("/api/v1/artifacts/" + id)
                .then().statusCode(304);
        given().queryParam("size", 100).get("/api/v1/artifacts/" + id).then().statusCode(400)
                .contentType("application/problem+json").body("errors[0].field", equalTo("size"))
                .body("errors[0].message", equalTo("must be one of 128, 256, 512"));

        UUID bomb = data.artifact(jobId, "bomb.png", "image/png", pngBomb(), sha256(pngBomb()));
        given().queryParam("size", 128).get("/api/v1/artifacts/" + bomb).then().statusCode(422)
                .contentType("application/problem+json")
                .body("detail", org.hamcrest.Matchers.containsString("100000 x 100000 pixels"));
        UUID truncated = data.artifact(jobId, "cut.png", "image/png", PNG, sha256(PNG));
        given().queryParam("size", 128).get("/api/v1/artifacts/" + truncated).then().statusCode(422)
                .body("detail", org.hamcrest.Matchers.containsString("could not be decoded"));
        byte[] text = "not a picture".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        UUID notAnImage = data.artifact(jobId, "notes.txt", "text/plain", text, sha256(text));
        given().queryParam("size", 128).get("/api/v1/artifacts/" + notAnImage).then().statusCode(400)
                .body("errors[0].field", equalTo("size"));
        given().queryParam("size", 128).get("/api/v1/artifacts/" + UUID.randomUUID()).then().statusCode(404);
        // the full image is still there, as it was
        assertThat(given().get("/api/v1/artifacts/" + id).then().statusCode(200).extract().asByteArray())
                .isEqualTo(portrait);
    }
}
