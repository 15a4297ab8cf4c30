package dev.atelier.api.auth;

import java.util.Locale;

/** What a token may do (API.md, roles), each role all the one before it may and more. */
public enum Role {
    /** May read: the ledger, and the gateway's GETs. */
    READ,
    /** May also submit, and cancel or retry what it submitted ({@code submitted_by}). */
    SUBMIT,
    /** May also write crews, and cancel or retry anyone's work. */
    ADMIN;

    public boolean mayWrite() {
        return includes(SUBMIT);
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

    static Role parse(String value) {
        return valueOf(value.trim().toUpperCase(Locale.ROOT));
    }
}
