package dev.atelier.ledger.service;

import dev.atelier.api.auth.BearerAuth;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Optional;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Tickets for the dashboard's event stream. A browser's EventSource cannot send a bearer header, so the page fetches
 * a ticket with its token (GET /api/v1/stream-ticket) and opens {@code /events?ticket=...}. A ticket names the
 * token it was issued to and expires after a minute; it is signed, not stored, so any ledger replica accepts one
 * another issued (they derive the same key from the configured tokens). It only opens the stream, which carries
 * no data but "something changed": a ticket seen in a log a minute later opens nothing.
 */
@ApplicationScoped
public class StreamTickets {

    static final Duration LIFETIME = Duration.ofMinutes(1);
    private static final Base64.Encoder ENCODE = Base64.getUrlEncoder().withoutPadding();
    private static final Base64.Decoder DECODE = Base64.getUrlDecoder();

    @Inject
    BearerAuth auth;

    /** A ticket for this token name, valid until {@code now} plus a minute. */
    public String issue(String name, Instant now) {
        String body = ENCODE.encodeToString(name.getBytes(StandardCharsets.UTF_8)) + "." + now.plus(LIFETIME).getEpochSecond();
        return body + "." + ENCODE.encodeToString(sign(body));
    }

    public Instant expiry(Instant now) {
        return now.plus(LIFETIME);
    }

    /** The token name the ticket was issued to, if it is one of ours and has not expired. */
    public Optional<String> holder(String ticket, Instant now) {
        if (ticket == null || ticket.length() > 512) {
            return Optional.empty();
        }
        String[] parts = ticket.split("\\.", -1);
        if (parts.length != 3) {
            return Optional.empty();
        }
        try {
            String body = parts[0] + "." + parts[1];
            if (!MessageDigest.isEqual(sign(body), DECODE.decode(parts[2]))
                    || now.getEpochSecond() > Long.parseLong(parts[1])) {
                return Optional.empty();
            }
            return Optional.of(new String(DECODE.decode(parts[0]), StandardCharsets.UTF_8));
        } catch (IllegalArgumentException e) { // not base64, not a number
            return Optional.empty();
        }
    }

    private byte[] sign(String body) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(auth.ticketKey(), "HmacSHA256"));
            return mac.doFinal(body.getBytes(StandardCharsets.UTF_8));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is part of every Java runtime", e);
        }
    }
}
