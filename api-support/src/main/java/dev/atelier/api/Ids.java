package dev.atelier.api;

import java.util.UUID;

/** Ids in paths: something that is not a UUID names nothing, so it is a 404 like an unknown id. */
public final class Ids {

    private Ids() {
    }

    public static UUID parse(String id, String what) {
        try {
            return UUID.fromString(id);
        } catch (IllegalArgumentException e) {
            throw ProblemException.of(404, "no " + what + " " + id + " (ids are UUIDs)");
        }
    }
}
