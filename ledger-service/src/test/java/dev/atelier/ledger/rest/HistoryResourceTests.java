package dev.atelier.ledger.rest;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;

import dev.atelier.ledger.LedgerData;
import dev.atelier.ledger.service.HistorySampler;
import dev.atelier.store.testing.PostgresTestResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import jakarta.inject.Inject;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import org.junit.jupiter.api.Test;

@QuarkusTest
@QuarkusTestResource(PostgresTestResource.class)
class HistoryResourceTests {

    @Inject
    LedgerData data;

    @Inject
    HistorySampler sampler;

    @Test
    void theLastHoursComeOnOneMinuteAxisWithAValuePerSeriesAndGapsAsNull() {
        data.forgetExecutors();
        data.executor("executor-history", 4, 3, "online", List.of(LedgerData.MODEL));
        JsonPath history;
        Instant sampledAt;
        do { // (again if a minute ended between the sample and the read)
            sampledAt = Instant.now();
            data.inspect().execute("delete from history_point"); // another test may have sampled this minute first
            sampler.runOnce();
            history = given().queryParam("hours", 2).get("/api/v1/history").then().statusCode(200).extract().jsonPath();
        } while (!Instant.now().truncatedTo(ChronoUnit.MINUTES).equals(sampledAt.truncatedTo(ChronoUnit.MINUTES)));
        List<String> minutes = history.getList("minutes");
        assertThat(minutes).hasSize(120);
        Instant last = Instant.parse(minutes.get(119));
        assertThat(last).as("the minute the sample was of")
                .isEqualTo(sampledAt.truncatedTo(ChronoUnit.MINUTES).minusSeconds(60));
        assertThat(Instant.parse(minutes.get(118))).isEqualTo(last.minusSeconds(60));
        List<Float> busy = history.getList("series.utilisation.executor-history");
        assertThat(busy).hasSize(120);
        assertThat(busy.get(119)).isEqualTo(0.75f);
        assertThat(busy.get(0)).as("no sample then").isNull();
        assertThat(history.getMap("series").keySet()).containsExactlyInAnyOrder("finished", "waiting", "running", "utilisation");
        assertThat(history.getList("series.finished.success")).hasSize(120);
    }

    @Test
    void aSpanOutsideOneHourToAWeekIsA400NamingIt() {
        for (String hours : new String[] {"0", "169", "six", "-1", "99999999999"}) {
            given().queryParam("hours", hours).get("/api/v1/history").then().statusCode(400)
                    .body("errors[0].field", equalTo("hours"));
        }
        given().get("/api/v1/history").then().statusCode(200).body("minutes.size()", equalTo(360));
    }
}
