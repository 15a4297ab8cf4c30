package dev.atelier.api.auth;

import java.util.Locale;

/** What a token may do (API.md, authentication). */
public enum Role {
    /** May write to the gateway and read everything. */
    SUBMIT,
    /** May read: the ledger, and the gateway's GETs. */
    READ;

    public boolean mayWrite() {
        return this == SUBMIT;
    }

    static Role parse(String value) {
        return valueOf(value.trim().toUpperCase(Locale.ROOT));
    }
}
