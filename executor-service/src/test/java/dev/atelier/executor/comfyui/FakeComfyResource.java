package dev.atelier.executor.comfyui;

import dev.atelier.fakes.FakeComfy;
import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import java.util.HashMap;
import java.util.Map;

/**
 * Starts a {@link FakeComfy} for an executor test and points the executor's ComfyUI at it (no Ollama), with quick
 * loops: 1 s heartbeats, health checks and reaping, a 3 s lease, history polled every 300 ms.
 */
public class FakeComfyResource implements QuarkusTestResourceLifecycleManager {

    /** Marks the test's {@link FakeComfy} field. */
    @Retention(RetentionPolicy.RUNTIME)
    @Target(ElementType.FIELD)
    public @interface Fake {
    }

    private FakeComfy fake;

    @Override
    public Map<String, String> start() {
        fake = new FakeComfy();
        Map<String, String> config = new HashMap<>();
        config.put("atelier.backends.comfyui.url", fake.url());
        config.put("atelier.backends.comfyui.slots", "1");
        config.put("atelier.backends.comfyui.poll-interval", "PT0.3S");
        config.put("atelier.backends.comfyui.busy-pause", "PT1S");
        config.put("atelier.backends.comfyui.download-timeout", "PT1S");
        config.put("atelier.backends.comfyui.queue-timeout", "PT3S");
        config.put("atelier.executor.model-grace", "PT3S");
        config.put("atelier.artifacts.max-bytes", Long.toString(2L << 20));
        config.put("atelier.backends.ollama.slots", "0");
        config.put("atelier.backends.health-interval", "1s");
        config.put("atelier.executor.id", "executor-comfy-test");
        config.put("atelier.executor.lease", "PT3S");
        config.put("atelier.executor.heartbeat", "1s");
        config.put("atelier.executor.reap-interval", "1s");
        config.put("atelier.executor.poll", "PT0.5S");
        return config;
    }

    @Override
    public void inject(TestInjector injector) {
        injector.injectIntoFields(fake, new TestInjector.AnnotatedAndMatchesType(Fake.class, FakeComfy.class));
    }

    @Override
    public void stop() {
        fake.close();
    }
}
