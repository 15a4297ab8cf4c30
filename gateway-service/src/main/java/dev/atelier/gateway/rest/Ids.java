package dev.atelier.gateway.rest;

import dev.atelier.api.ProblemException;
import java.util.UUID;

/** Ids in paths: something that is not a UUID names nothing, so it is a 404 like an unknown id. */
final class Ids {

    private Ids() {
    }

    static UUID parse(String id, String what) {
        try {
            return UUID.fromString(id);
        } catch (IllegalArgumentException e) {
            throw ProblemException.of(404, "no " + what + " " + id + " (ids are UUIDs)");
        }
    }
}
