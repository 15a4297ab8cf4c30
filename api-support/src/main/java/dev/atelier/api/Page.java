package dev.atelier.api;

import java.util.List;

/** A keyset-paged list (API.md, conventions): {@code {"items": [...], "next_after": "<cursor>" | null}}. */
public record Page<T>(List<T> items, String nextAfter) {

    public static final int DEFAULT_LIMIT = 50;
    public static final int MAX_LIMIT = 500;

    /** Reads {@code ?limit=}: 1..500, 50 when absent; anything else is a 400 naming the parameter. */
    public static int limit(String value) {
        if (value == null || value.isBlank()) {
            return DEFAULT_LIMIT;
        }
        try {
            int limit = Integer.parseInt(value.trim());
            if (limit >= 1 && limit <= MAX_LIMIT) {
                return limit;
            }
        } catch (NumberFormatException ignored) {
            // answered below
        }
        throw new ProblemException(Problem.invalid("a query parameter is out of range",
                List.of(new Problem.FieldError("limit", "must be an integer from 1 to " + MAX_LIMIT))));
    }
}
