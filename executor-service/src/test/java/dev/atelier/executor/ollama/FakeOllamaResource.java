package dev.atelier.executor.ollama;

import dev.atelier.fakes.FakeOllama;
import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import java.util.HashMap;
import java.util.Map;

/**
 * Starts a {@link FakeOllama} for an executor test, points the executor at it, and shortens the loops so tests run
 * in seconds: 1 s heartbeats, health checks and reaping, a 3 s lease, quick in-call retries.
 */
public class FakeOllamaResource implements QuarkusTestResourceLifecycleManager {

    /** Marks the test's {@link FakeOllama} field. */
    @Retention(RetentionPolicy.RUNTIME)
    @Target(ElementType.FIELD)
    public @interface Fake {
    }

    private FakeOllama fake;

    @Override
    public Map<String, String> start() {
        fake = new FakeOllama();
        Map<String, String> config = new HashMap<>();
        config.put("atelier.backends.ollama.url", fake.url());
        config.put("atelier.backends.ollama.slots", "2");
        config.put("atelier.backends.ollama.num-parallel", "2");
        config.put("atelier.backends.comfyui.slots", "0");
        config.put("atelier.backends.ollama.idle-timeout", "PT1S");
        config.put("atelier.backends.ollama.busy-pause", "PT1S");
        config.put("atelier.backends.health-interval", "1s");
        config.put("atelier.executor.id", "executor-test");
        config.put("atelier.executor.lease", "PT3S");
        config.put("atelier.executor.heartbeat", "1s");
        config.put("atelier.executor.reap-interval", "1s");
        config.put("atelier.executor.poll", "PT0.5S");
        config.put("atelier.executor.model-grace", "PT3S");
        config.put("atelier.executor.capacity-pause", "PT6S");
        String retry = "quarkus.fault-tolerance.\"dev.atelier.executor.ollama.OllamaClient/generate\".retry.";
        config.put(retry + "delay", "50");
        config.put(retry + "jitter", "20");
        return config;
    }

    @Override
    public void inject(TestInjector injector) {
        injector.injectIntoFields(fake, new TestInjector.AnnotatedAndMatchesType(Fake.class, FakeOllama.class));
    }

    @Override
    public void stop() {
        fake.close();
    }
}
