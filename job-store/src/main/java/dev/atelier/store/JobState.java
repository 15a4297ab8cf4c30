package dev.atelier.store;

import java.util.Locale;

/**
 * The job states. Which transitions are legal is decided in one place, the database
 * ({@code job_transition_allowed} in V1__schema.sql), so that no statement can break it.
 */
public enum JobState {
    PENDING, RUNNING, RETRY, SUCCESS, FAILED, CANCELLED;

    public boolean terminal() {
        return this == SUCCESS || this == FAILED || this == CANCELLED;
    }

    /** The name used in the database and in JSON. */
    public String wire() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static JobState fromWire(String value) {
        return valueOf(value.toUpperCase(Locale.ROOT));
    }
}
