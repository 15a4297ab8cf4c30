package dev.atelier.store;

import java.util.Locale;

/** How a batch gates its own jobs (DESIGN.md, ordering). */
public enum BatchMode {
    /** A priority group waits until every lower-numbered job of the batch is terminal. */
    PRIORITY,
    /** All at once, still claimed in priority order. */
    PARALLEL,
    /** One running job at a time, in priority then list order. */
    SEQUENTIAL;

    public String wire() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static BatchMode fromWire(String value) {
        return valueOf(value.toUpperCase(Locale.ROOT));
    }
}
