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
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** With atelier.artifacts.s3.presign set, the ledger hands the read to the object store with a short-lived URL. */
@QuarkusTest
@QuarkusTestResource(value = PostgresTestResource.class, restrictToAnnotatedClass = true)
@QuarkusTestResource(value = S3TestServer.class, restrictToAnnotatedClass = true)
@TestProfile(PresignedArtifactTests.Presigned.class)
class PresignedArtifactTests {

    public static class Presigned implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("atelier.artifacts.s3.presign", "PT1M");
        }
    }

    @Inject
    LedgerData data;

    @Inject
    Artifacts artifacts;

    @Test
    void anArtifactInTheBucketIsARedirectToAPresignedUrlThatServesItsBytes() throws Exception {
        data.store(Batches.batch(BatchMode.PARALLEL).jobs(1, 1, "comfyui.workflow", null));
        var job = data.claimComfy("executor-comfy", 1).get(0);
        byte[] png = {(byte) 0x89, 'P', 'N', 'G', 7, 7, 7};
        var stored = artifacts.store(job.id(), job.leaseToken(), job.attempt(),
                List.of(Artifacts.NewArtifact.of("Sonya_00001_.png", "image/png", png))).orElseThrow().get(0);

        String location = given().redirects().follow(false).get("/api/v1/artifacts/" + stored.id()).then()
                .statusCode(307).header("Cache-Control", "no-store").extract().header("Location");
        assertThat(location).startsWith(S3TestServer.endpoint().toString()).contains("X-Amz-Signature=")
                .contains("X-Amz-Expires=60");
        HttpResponse<byte[]> fetched = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(location))
                .build(), HttpResponse.BodyHandlers.ofByteArray());
        assertThat(fetched.statusCode()).isEqualTo(200);
        assertThat(fetched.body()).isEqualTo(png);
        assertThat(fetched.headers().firstValue("Content-Disposition")).hasValueSatisfying(d ->
                assertThat(d).contains("Sonya_00001_.png"));
        // a tampered URL is refused by the store itself
        String tampered = location.replace("X-Amz-Expires=60", "X-Amz-Expires=600");
        assertThat(HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(tampered)).build(),
                HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8)).statusCode()).isEqualTo(403);
    }
}
