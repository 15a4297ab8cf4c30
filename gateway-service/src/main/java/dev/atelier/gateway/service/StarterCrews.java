package dev.atelier.gateway.service;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;
import java.util.Optional;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

/**
 * Creates the starter crews ({@code mk1}, {@code code}) at start when they are missing. They come from
 * {@code crews/starter-crews.json} in the gateway, or from the file {@code atelier.crews.starter-file} names.
 */
@ApplicationScoped
public class StarterCrews {

    private static final Logger LOG = Logger.getLogger(StarterCrews.class);
    static final String BUILT_IN = "crews/starter-crews.json";

    @Inject
    CrewService crews;

    @Inject
    ObjectMapper mapper;

    @ConfigProperty(name = "atelier.crews.starter-file")
    Optional<Path> starterFile;

    void onStart(@Observes StartupEvent start) throws IOException {
        JsonNode starters = read();
        for (Iterator<Map.Entry<String, JsonNode>> it = starters.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> crew = it.next();
            try {
                if (crews.createIfMissing(crew.getKey(), crew.getValue())) {
                    LOG.infof("created the starter crew '%s'", crew.getKey());
                }
            } catch (RuntimeException e) {
                // two gateways starting together: the other one stored it first
                if (crews.find(crew.getKey()).isEmpty()) {
                    throw e;
                }
            }
        }
    }

    private JsonNode read() throws IOException {
        if (starterFile.isPresent()) {
            return mapper.readTree(Files.readString(starterFile.get()));
        }
        try (InputStream in = Thread.currentThread().getContextClassLoader().getResourceAsStream(BUILT_IN)) {
            if (in == null) {
                throw new IOException(BUILT_IN + " is missing from the gateway");
            }
            return mapper.readTree(in);
        }
    }
}
