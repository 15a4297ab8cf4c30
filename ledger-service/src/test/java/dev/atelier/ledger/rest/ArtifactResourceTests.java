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
}
