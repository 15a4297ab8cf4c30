package dev.atelier.ledger.rest;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;

import dev.atelier.ledger.LedgerData;
import dev.atelier.ledger.service.ClusterMetrics;
import dev.atelier.store.BatchMode;
import dev.atelier.store.testing.Batches;
import dev.atelier.store.testing.PostgresTestResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The database as Prometheus sees it on /q/metrics. */
@QuarkusTest
@QuarkusTestResource(PostgresTestResource.class)
class MetricsTests {

    @Inject
    LedgerData data;

    @Inject
    ClusterMetrics metrics;

    private static double value(String scrape, String series) {
        Matcher m = Pattern.compile("^" + Pattern.quote(series) + " ([0-9.eE+-]+)$", Pattern.MULTILINE).matcher(scrape);
        assertThat(m.find()).as(series + " in\n" + scrape.lines().filter(l -> l.startsWith("atelier")).toList()).isTrue();
        return Double.parseDouble(m.group(1));
    }

    @Test
    void jobsByStatePriorityAndBackendOldestWaitingAndExecutors() {
        data.closeOpenJobs();
        data.forgetExecutors();
        data.store(Batches.batch(BatchMode.PARALLEL).ollamaJobs(3, 7).jobs(2, 7, "comfyui.workflow", null));
        data.claim("executor-m", 1);
        data.executor("executor-m", 4, 1, "online", List.of(LedgerData.MODEL));
        data.executor("executor-n", 4, 2, "degraded", List.of(LedgerData.MODEL));
        data.inspect().execute("update job set created_at = now() - interval '90 seconds' where state = 'pending' and kind = 'comfyui'");
        metrics.refresh();

        String scrape = given().get("/q/metrics").then().statusCode(200).extract().asString();
        long pending = data.inspect().count("select count(*) from job where state = 'pending' and priority = 7 and kind = 'ollama'");
        assertThat(value(scrape, "atelier_jobs{backend=\"ollama\",priority=\"7\",state=\"pending\"}")).isEqualTo(pending);
        assertThat(value(scrape, "atelier_jobs{backend=\"ollama\",priority=\"7\",state=\"running\"}")).isEqualTo(1);
        assertThat(value(scrape, "atelier_jobs{backend=\"comfyui\",priority=\"7\",state=\"pending\"}")).isEqualTo(
                data.inspect().count("select count(*) from job where state = 'pending' and priority = 7 and kind = 'comfyui'"));
        assertThat(value(scrape, "atelier_jobs_oldest_waiting_age_seconds{backend=\"comfyui\"}")).isBetween(89.0, 200.0);
        assertThat(value(scrape, "atelier_executors_live")).isEqualTo(2);
        assertThat(value(scrape, "atelier_cluster_slots{backend=\"ollama\"}")).isEqualTo(8);
        assertThat(value(scrape, "atelier_cluster_slots_busy{backend=\"ollama\"}")).isEqualTo(3);
        assertThat(value(scrape, "atelier_cluster_slot_utilisation{backend=\"ollama\"}")).isEqualTo(3.0 / 8);
        assertThat(value(scrape, "atelier_backends{backend=\"ollama\",status=\"degraded\"}")).isEqualTo(1);
    }
}
