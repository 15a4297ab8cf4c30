package dev.atelier.ledger.rest;

import dev.atelier.store.testing.HostileRequestContract;
import dev.atelier.store.testing.PostgresTestResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;

/** Every /api/** operation of the ledger refuses NUL characters and unknown query parameters, naming where. */
@QuarkusTest
@QuarkusTestResource(PostgresTestResource.class)
class HostileRequestTests extends HostileRequestContract {
}
