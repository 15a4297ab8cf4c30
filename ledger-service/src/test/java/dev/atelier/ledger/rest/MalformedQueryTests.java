package dev.atelier.ledger.rest;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;

import dev.atelier.store.testing.PostgresTestResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Every bad filter value, and every parameter an endpoint does not take, is a 400 problem naming the parameter,
 * never a 500 (API.md, conventions). The ledger only reads, so a refusal has nothing it could have stored.
 */
@QuarkusTest
@QuarkusTestResource(PostgresTestResource.class)
class MalformedQueryTests {

    @ParameterizedTest(name = "{0}?{1}={2}")
    @CsvSource(delimiter = '|', value = {
            "/api/v1/summary                | batch     | 12345",
            "/api/v1/summary                | label     | project",
            "/api/v1/summary                | label     | bad key!:x",
            "/api/v1/batches                | state     | finished",
            "/api/v1/batches                | state     | running,nope",
            "/api/v1/batches                | label     | :mk1",
            "/api/v1/batches                | limit     | 0",
            "/api/v1/batches                | limit     | 501",
            "/api/v1/batches                | limit     | ten",
            "/api/v1/batches                | after     | page-2",
            "/api/v1/batches                | finished_before | 30d",
            "/api/v1/batches                | finished_before | +300000-01-01T00:00:00Z",
            "/api/v1/jobs                   | batch     | x'; drop table job; --",
            "/api/v1/jobs                   | state     | done",
            "/api/v1/jobs                   | limit     | -1",
            "/api/v1/jobs                   | after     | 42",
            "/api/v1/artifacts              | job       | nope",
            "/api/v1/artifacts              | batch     | nope",
            "/api/v1/exports/ledger.jsonl   | status    | handed_back",
            "/api/v1/exports/ledger.jsonl   | since     | yesterday",
            "/api/v1/exports/ledger.jsonl   | until     | 2026-13-01T00:00:00Z",
            "/api/v1/exports/ledger.jsonl   | after_seq | -5",
            "/api/v1/exports/ledger.jsonl   | after_seq | 1e3",
            "/api/v1/exports/ledger.jsonl   | batch     | nope",
            "/api/v1/exports/events.jsonl   | status    | lost",
            "/api/v1/exports/events.jsonl   | after_seq | 99999999999999999999",
            // issue 18: U+0000 (written NUL here), times past the calendar, misspelt filters, absurd numbers
            "/api/v1/summary                | label     | k:NUL",
            "/api/v1/batches                | label     | k:NUL",
            "/api/v1/batches                | after     | NUL",
            "/api/v1/jobs                   | state     | failedNUL",
            "/api/v1/artifacts              | job       | NUL",
            "/api/v1/exports/ledger.jsonl   | status    | NUL",
            "/api/v1/exports/events.jsonl   | after_seq | 1NUL",
            "/api/v1/exports/ledger.jsonl   | since     | +1000000000-01-01T00:00:00Z",
            "/api/v1/exports/events.jsonl   | until     | +300000-01-01T00:00:00Z",
            "/api/v1/exports/ledger.jsonl   | since     | -5000-01-01T00:00:00Z",
            "/api/v1/batches                | satte     | failed",
            "/api/v1/jobs                   | stat      | running",
            "/api/v1/summary                | bacth     | 0190f5b2-8c1e-7a3d-9f10-5b2c4d6e8f01",
            "/api/v1/exports/ledger.jsonl   | after     | 5",
            "/api/v1/jobs                   | limit     | 99999999999999999999",
            "/api/v1/batches                | limit     | 1e2",
    })
    void aBadFilterIsA400NamingIt(String path, String parameter, String value) {
        given().queryParam(parameter, value.replace("NUL", "\u0000")).get(path).then()
                .statusCode(400)
                .contentType("application/problem+json")
                .body("status", equalTo(400))
                .body("errors.field", hasItem(parameter));
    }
}
