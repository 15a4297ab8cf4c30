package dev.atelier.executor.config;

import static org.assertj.core.api.Assertions.assertThat;

import dev.atelier.store.testing.PostgresTestResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The defaults API.md promises an operator. */
@QuarkusTest
@QuarkusTestResource(PostgresTestResource.class)
class ExecutorConfigTests {

    @Inject
    BackendsConfig backends;

    @Inject
    ExecutorConfig executor;

    @Test
    void defaultsMatchTheApi() {
        assertThat(backends.ollama().url()).isEqualTo("http://localhost:11434");
        assertThat(backends.ollama().slots()).isEqualTo(1);
        assertThat(backends.comfyui().url()).isEqualTo("http://localhost:8188");
        assertThat(backends.comfyui().slots()).isEqualTo(1);
        assertThat(executor.lease()).isEqualTo(Duration.ofSeconds(30));
        assertThat(executor.heartbeat()).as("a third of the lease").isEqualTo(Duration.ofSeconds(10));
        assertThat(executor.reapInterval()).isEqualTo(Duration.ofSeconds(5));
        assertThat(executor.handBackCap()).isEqualTo(3);
        assertThat(executor.modelGrace()).isEqualTo(Duration.ofSeconds(60));
        assertThat(backends.ollama().stream()).isTrue();
        assertThat(backends.ollama().idleTimeout()).isEqualTo(Duration.ofMinutes(2));
        assertThat(backends.ollama().timeout()).as("API.md: PT10M for Ollama").isEqualTo(Duration.ofMinutes(10));
    }
}
