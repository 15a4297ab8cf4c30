package dev.atelier.api.auth;

import java.util.Locale;
import java.util.Set;

/** What a token may do (API.md, roles), each role all the one before it may and more. */
public enum Role {
    /** May read: the ledger, and the gateway's GETs. */
    READ,
    /** May also submit, and cancel or retry what it submitted ({@code submitted_by}). */
    SUBMIT,
    /** May also write crews, and cancel or retry anyone's work. */
    ADMIN;

    private static final Set<String> READ_METHODS = Set.of("GET", "HEAD", "OPTIONS");

    public boolean mayWrite() {
        return includes(SUBMIT);
    }

    /**
     * The least role any request of this HTTP method needs: a read for GET, HEAD and OPTIONS, a submit for the rest.
     * What needs more (crews, others' batches) is checked where it is served.
     */
    public static Role leastFor(String httpMethod) {
        return READ_METHODS.contains(httpMethod.toUpperCase(Locale.ROOT)) ? READ : SUBMIT;
    }

    /** Whether a token of this role may do what {@code needed} may. */
    public boolean includes(Role needed) {
        return compareTo(needed) >= 0;
    }

    /** As tokens and problems spell it: {@code submit}. */
    public String wire() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** With its article, for messages: {@code an admin token}. */
    public String aToken() {
        return (this == ADMIN ? "an " : "a ") + wire() + " token";
    }

    public static Role parse(String value) {
        return valueOf(value.trim().toUpperCase(Locale.ROOT));
    }
}
