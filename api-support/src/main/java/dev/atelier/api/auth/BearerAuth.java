package dev.atelier.api.auth;

import dev.atelier.api.Problem;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.Response;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;
import org.jboss.resteasy.reactive.server.ServerRequestFilter;

/**
 * Checks the bearer token of every /api/** request: a missing or unknown token is a 401, a read token on a
 * write is a 403 naming the role needed. What needs more than a submit token (crews, others' batches) is checked
 * where the request is served, through {@link Caller}. Health, metrics and the dashboard page need no token.
 * Tokens are never logged.
 */
@Singleton
public class BearerAuth {

    private static final Logger LOG = Logger.getLogger(BearerAuth.class);

    /** Whether /api/** needs a bearer token; true in prod, false in the dev and test profiles. */
    @ConfigProperty(name = "atelier.auth.enabled", defaultValue = "true")
    boolean enabled;

    /** {@code name:role:hex-sha256} entries, comma-separated (ATELIER_AUTH_TOKENS). */
    @ConfigProperty(name = "atelier.auth.tokens")
    Optional<List<String>> configuredTokens;

    /** A file of entries, one per line, such as a mounted Kubernetes Secret; read as well as the list. */
    @ConfigProperty(name = "atelier.auth.tokens-file")
    Optional<Path> tokensFile;

    @Inject
    Caller caller;

    private volatile Tokens tokens;
    private volatile byte[] ticketKey;

    /** Loads the tokens at start; auth on with none configured stops the service with a clear message. */
    void onStart(@Observes StartupEvent start) throws IOException {
        tokens = load();
        if (enabled && tokens.isEmpty()) {
            throw new IllegalStateException("atelier.auth.enabled is true but no tokens are configured: set "
                    + "ATELIER_AUTH_TOKENS (name:role:hex-sha256 entries, comma-separated) or ATELIER_AUTH_TOKENS_FILE, "
                    + "or turn authentication off with ATELIER_AUTH_ENABLED=false");
        }
        LOG.infof("bearer tokens %s", enabled ? "required on /api/**" : "not required (atelier.auth.enabled=false)");
    }

    private Tokens load() throws IOException {
        List<String> entries = new ArrayList<>(configuredTokens.orElse(List.of()));
        if (tokensFile.isPresent()) {
            entries.addAll(Files.readAllLines(tokensFile.get()));
        }
        // every replica reads the same entries, so each derives the same key: a ticket one signs, any other accepts
        var digest = Tokens.newSha256();
        digest.update("atelier stream tickets\n".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        entries.stream().map(String::trim).sorted().forEach(e -> digest.update((e + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8)));
        ticketKey = digest.digest();
        return Tokens.parse(entries);
    }

    /** Whether /api/** needs a bearer token. */
    public boolean enabled() {
        return enabled;
    }

    /**
     * The key that signs short-lived tickets for what cannot send a bearer header (a browser's EventSource),
     * derived from the configured token entries, which only an operator can read.
     */
    public byte[] ticketKey() {
        return ticketKey.clone();
    }

    @ServerRequestFilter
    public Response authenticate(ContainerRequestContext request) {
        if (!enabled || !request.getUriInfo().getPath().startsWith("/api/")) {
            return null;
        }
        String header = request.getHeaderString(HttpHeaders.AUTHORIZATION);
        if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7) || header.length() == 7) {
            return unauthorized("send Authorization: Bearer <token>");
        }
        var holder = tokens.holderOf(header.substring(7).trim());
        if (holder.isEmpty()) {
            return unauthorized("the bearer token is not one this service knows");
        }
        if (!holder.get().role().includes(Role.leastFor(request.getMethod()))) {
            return Problem.of(403, "to " + request.getMethod() + " " + request.getUriInfo().getPath()
                    + " needs a submit token; the token '" + holder.get().name() + "' is a read token").toResponse();
        }
        caller.identify(holder.get());
        return null;
    }

    private static Response unauthorized(String detail) {
        return Response.fromResponse(Problem.of(401, detail).toResponse())
                .header(HttpHeaders.WWW_AUTHENTICATE, "Bearer realm=\"atelier\"").build();
    }
}
