package dev.atelier.executor.service;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atelier.store.ClaimedJob;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/** A runner a test scripts: what every call does, and what it saw. */
final class ScriptedRunner implements JobRunner {

    /** What one call does. */
    interface Script {
        ObjectNode run(ClaimedJob job, CallControl control) throws Exception;
    }

    static final ObjectMapper JSON = new ObjectMapper();

    private final String kind;
    private volatile Script script = (job, control) -> JSON.createObjectNode().put("text", "done " + job.key());
    final Set<UUID> started = ConcurrentHashMap.newKeySet();
    final CountDownLatch release = new CountDownLatch(1);

    ScriptedRunner(String kind) {
        this.kind = kind;
    }

    void script(Script script) {
        this.script = script;
    }

    /** Calls run until they are stopped through their control. */
    void untilStopped() {
        script((job, control) -> {
            while (control.stopped() == null) {
                Thread.sleep(10);
            }
            throw new java.util.concurrent.CancellationException("stopped");
        });
    }

    /** Calls ignore every stop and interrupt until the test releases them. */
    void ignoringStops() {
        script((job, control) -> {
            while (true) {
                try {
                    if (release.await(10, TimeUnit.SECONDS)) {
                        return JSON.createObjectNode().put("text", "late");
                    }
                } catch (InterruptedException ignored) {
                    // a runner stuck in native code or a library that swallows interrupts
                }
            }
        });
    }

    @Override
    public String kind() {
        return kind;
    }

    @Override
    public ObjectNode run(ClaimedJob job, CallControl control) throws Exception {
        started.add(job.id());
        return script.run(job, control);
    }
}
