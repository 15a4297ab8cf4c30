package dev.atelier.api;

import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quarkus.jackson.ObjectMapperCustomizer;
import jakarta.inject.Singleton;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * Limits on every JSON document the service's mapper reads, so that no body within the byte limit can take the
 * heap. A parsed tree holds about 70 bytes of heap per JSON token at worst (short strings; {@code {}} costs 85 bytes
 * for its two tokens), so five million {@code {}} in a 14 MB body took 650 MB. The number of tokens is capped, and
 * nesting with it (Jackson's own limits on numbers, names and strings stay); past either, the answer is a 413
 * problem ({@link ProblemMappers}). The executor raises both: it reads its backends' answers, not clients' bodies.
 */
@Singleton
public class JsonLimits implements ObjectMapperCustomizer {

    @ConfigProperty(name = "atelier.json.max-tokens", defaultValue = "1000000")
    long maxTokens;

    @ConfigProperty(name = "atelier.json.max-depth", defaultValue = "64")
    int maxDepth;

    @Override
    public void customize(ObjectMapper mapper) {
        mapper.getFactory().setStreamReadConstraints(StreamReadConstraints.builder()
                .maxTokenCount(maxTokens)
                .maxNestingDepth(maxDepth)
                .build());
    }
}
