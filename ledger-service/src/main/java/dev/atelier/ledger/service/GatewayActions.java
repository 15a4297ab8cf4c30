package dev.atelier.ledger.service;

import dev.atelier.api.ProblemException;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.UUID;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

/**
 * The dashboard's four actions (cancel or retry a batch or a job), forwarded to the gateway, so that the page,
 * served here, reaches them on its own origin: no CORS, no second address for the browser to know, one host in the
 * Ingress. Only these four are forwarded, each to a fixed path with a parsed UUID, no body and no query. The caller's
 * bearer token goes along and the gateway decides what it may do (a refusal is its 403 naming the role needed).
 * The token travels in a header, never a cookie, so no other site can make a browser send it.
 */
@ApplicationScoped
public class GatewayActions {

    private static final Logger LOG = Logger.getLogger(GatewayActions.class);
    /** A gateway's answer to an action is a small JSON or problem document; more is not relayed. */
    static final int MAX_ANSWER_BYTES = 64 * 1024;

    /** What the dashboard may ask the gateway to do, and the gateway's path for each. */
    public enum Action {
        CANCEL_BATCH("/api/v1/batches/%s/cancel"),
        RETRY_FAILED("/api/v1/batches/%s/retry-failed"),
        CANCEL_JOB("/api/v1/jobs/%s/cancel"),
        RETRY_JOB("/api/v1/jobs/%s/retry");

        private final String path;

        Action(String path) {
            this.path = path;
        }
    }

    /** Where the ledger reaches the gateway: its Service inside the cluster, not the public address. */
    @ConfigProperty(name = "atelier.ledger.gateway-url")
    URI gatewayUrl;

    /** How long an action waits for the gateway before the page is told it did not answer. */
    @ConfigProperty(name = "atelier.ledger.gateway-timeout")
    Duration timeout;

    // HTTP/1.1, as the services speak (quarkus.http.http2=false); no redirect is followed with the caller's token
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).followRedirects(HttpClient.Redirect.NEVER).build();

    /** Asks the gateway to take the action, and relays its status and answer as they are. */
    public Response forward(Action action, UUID id, String authorization) {
        // appended, not resolved: a gateway behind a path prefix (http://host/gateway) keeps it
        String base = gatewayUrl.toString().replaceAll("/+$", "");
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(base + action.path.formatted(id)))
                .timeout(timeout).POST(HttpRequest.BodyPublishers.noBody()).header("Accept", "application/json");
        if (authorization != null) {
            request.header(HttpHeaders.AUTHORIZATION, authorization);
        }
        HttpResponse<InputStream> answer;
        try {
            answer = http.send(request.build(), HttpResponse.BodyHandlers.ofInputStream());
        } catch (HttpTimeoutException e) {
            throw ProblemException.of(504, "the gateway did not answer within " + timeout.toSeconds() + " s: the action "
                    + "may or may not have been taken, so look at the job before trying again");
        } catch (IOException e) {
            LOG.warnf("could not reach the gateway at %s (atelier.ledger.gateway-url): %s", gatewayUrl, e.toString());
            throw ProblemException.of(502, "the gateway could not be reached, so nothing was done; the ledger's "
                    + "atelier.ledger.gateway-url may be wrong");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw ProblemException.of(503, "the ledger is stopping; nothing was forwarded");
        }
        byte[] body;
        try (InputStream in = answer.body()) {
            body = in.readNBytes(MAX_ANSWER_BYTES + 1);
        } catch (IOException e) {
            throw ProblemException.of(502, "the gateway's answer broke off: " + e.getMessage());
        }
        if (body.length > MAX_ANSWER_BYTES) {
            throw ProblemException.of(502, "the gateway answered with over " + MAX_ANSWER_BYTES
                    + " bytes, which no action gives; is atelier.ledger.gateway-url the gateway?");
        }
        Response.ResponseBuilder relayed = Response.status(answer.statusCode())
                .type(answer.headers().firstValue("Content-Type").orElse(MediaType.APPLICATION_JSON));
        if (body.length > 0) {
            relayed.entity(body);
        }
        for (String header : new String[] {HttpHeaders.WWW_AUTHENTICATE, "Retry-After", HttpHeaders.LOCATION}) {
            answer.headers().firstValue(header).ifPresent(v -> relayed.header(header, v));
        }
        return relayed.build();
    }
}
