package dev.atelier.executor.ollama;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atelier.executor.config.BackendsConfig;
import dev.atelier.executor.service.CallControl;
import dev.atelier.executor.service.JobRunner;
import dev.atelier.store.ClaimedJob;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.time.Duration;

/**
 * Runs {@code ollama.generate} and {@code ollama.chat} jobs: the stored spec goes to Ollama as it is (model,
 * prompt or messages, system, options, format, think, keep_alive, images), and the answer becomes the job's result.
 * What a failure means for the job is {@code AttemptTable}'s to say.
 */
@ApplicationScoped
public class OllamaJobRunner implements JobRunner {

    @Inject
    OllamaClient client;

    @Inject
    BackendsConfig config;

    @Inject
    ObjectMapper json;

    @Override
    public String kind() {
        return "ollama";
    }

    @Override
    public ObjectNode run(ClaimedJob job, CallControl control) throws Exception {
        BackendsConfig.Ollama ollama = config.ollama();
        ObjectNode body = (ObjectNode) json.readTree(job.specJson());
        body.put("model", job.model());
        body.put("stream", ollama.stream());
        if (!body.has("think")) {
            // explicit, so answers do not change with the Ollama version: 0.12.4 on, thinking models think unless told
            body.put("think", false);
        }
        String path = "ollama.chat".equals(job.type()) ? "/api/chat" : "/api/generate";
        Duration timeout = job.timeout() == null || job.timeout().isZero() ? ollama.timeout() : job.timeout();
        OllamaReply reply = client.generate(path, json.writeValueAsString(body), timeout,
                ollama.stream() ? ollama.idleTimeout() : null, control);
        return reply.toResult(json);
    }
}
