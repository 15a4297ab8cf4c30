package dev.atelier.ledger.rest;

import dev.atelier.api.ProblemException;
import dev.atelier.api.auth.BearerAuth;
import dev.atelier.api.auth.Caller;
import dev.atelier.ledger.service.LedgerPulse;
import dev.atelier.ledger.service.StreamTickets;
import io.quarkus.runtime.annotations.RegisterForReflection;
import io.smallrye.mutiny.Multi;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.sse.OutboundSseEvent;
import jakarta.ws.rs.sse.Sse;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.enums.SecuritySchemeIn;
import org.eclipse.microprofile.openapi.annotations.enums.SecuritySchemeType;
import org.eclipse.microprofile.openapi.annotations.security.SecurityRequirement;
import org.eclipse.microprofile.openapi.annotations.security.SecurityScheme;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

/**
 * The dashboard's live updates: a server-sent event each time something it shows changes (LedgerPulse, read once
 * a second per replica, whatever the number of pages listening), so a page reads again at once instead of every
 * 5 s. The stream is outside /api/** because a browser's EventSource cannot send a bearer header: with
 * authentication on it needs a ticket, fetched with the token from GET /api/v1/stream-ticket (StreamTickets).
 */
@Path("/")
@SecurityScheme(securitySchemeName = "ticket", type = SecuritySchemeType.APIKEY, in = SecuritySchemeIn.QUERY,
        apiKeyName = "ticket", description = "A ticket from GET /api/v1/stream-ticket, valid for a minute (a browser's "
        + "EventSource cannot send a bearer header)")
@Tag(name = "live", description = "The dashboard's change stream")
public class EventResource {

    /** A comment line this often keeps proxies from closing a quiet stream. */
    static final int KEEP_ALIVE_SECONDS = 15;

    @RegisterForReflection
    public record Ticket(String ticket, Instant expiresAt) {
    }

    @Inject
    StreamTickets tickets;

    @Inject
    BearerAuth auth;

    @Inject
    Caller caller;

    @Inject
    LedgerPulse pulse;

    Clock clock = Clock.systemUTC();

    @GET
    @Path("api/v1/stream-ticket")
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(operationId = "getStreamTicket",
            summary = "A ticket for the change stream", description = "Valid for a minute: open /events?ticket=...")
    public Ticket ticket() {
        Instant now = clock.instant();
        String name = caller.name() == null ? "anonymous" : caller.name();
        return new Ticket(tickets.issue(name, now), tickets.expiry(now));
    }

    @GET
    @Path("events")
    @Produces(MediaType.SERVER_SENT_EVENTS)
    @SecurityRequirement(name = "ticket")
    @Operation(operationId = "streamChanges",
            summary = "The change stream", description = "An event `change` whenever what the dashboard shows "
            + "has changed (read it again), and a keep-alive comment every 15 s. Needs `ticket` when authentication is on.")
    public Multi<OutboundSseEvent> events(@QueryParam("ticket") String ticket, @Context Sse sse) {
        if (auth.enabled() && tickets.holder(ticket, clock.instant()).isEmpty()) {
            throw ProblemException.of(401, ticket == null || ticket.isBlank()
                    ? "the stream needs ?ticket=, from GET /api/v1/stream-ticket with a bearer token"
                    : "the ticket is not one this ledger issued, or it expired (a ticket lasts a minute): fetch another");
        }
        AtomicReference<String> seen = new AtomicReference<>();
        return Multi.createFrom().ticks().every(Duration.ofSeconds(1))
                .map(tick -> {
                    String now = pulse.fingerprint();
                    if (!now.equals(seen.getAndSet(now))) {
                        return Optional.of(sse.newEventBuilder().name("change").data(now).build());
                    }
                    return tick % KEEP_ALIVE_SECONDS == KEEP_ALIVE_SECONDS - 1
                            ? Optional.of(sse.newEventBuilder().comment("keep-alive").build())
                            : Optional.<OutboundSseEvent>empty();
                })
                .select().where(Optional::isPresent).map(Optional::get);
    }
}
