package dev.atelier.store.testing;

import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import java.util.HashMap;
import java.util.Map;

/**
 * Gives a Quarkus test a migrated database of its own on the test PostgreSQL ({@link TestPostgres}).
 * The properties returned here win over {@code QUARKUS_DATASOURCE_*} in the environment.
 */
public class PostgresTestResource implements QuarkusTestResourceLifecycleManager {

    @Override
    public Map<String, String> start() {
        TestPostgres.Database db = TestPostgres.get().newDatabase();
        Map<String, String> config = new HashMap<>();
        config.put("quarkus.datasource.jdbc.url", db.jdbcUrl());
        config.put("quarkus.datasource.username", db.username());
        config.put("quarkus.datasource.password", db.password() == null ? "" : db.password());
        return config;
    }

    @Override
    public void stop() {
        // the database is dropped with the test PostgreSQL at the end of the JVM
    }
}
