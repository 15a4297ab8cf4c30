package dev.atelier.gateway.health;

import dev.atelier.store.testing.PostgresTestResource;
import dev.atelier.store.testing.ServiceHealthContract;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;

/** The gateway starts on a real PostgreSQL, migrates it, and reports itself healthy. */
@QuarkusTest
@QuarkusTestResource(PostgresTestResource.class)
class HealthTests extends ServiceHealthContract {
}
