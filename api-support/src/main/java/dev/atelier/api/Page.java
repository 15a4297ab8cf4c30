package dev.atelier.api;

import java.util.List;

/** A keyset-paged list (API.md, conventions): {@code {"items": [...], "next_after": "<cursor>" | null}}. */
public record Page<T>(List<T> items, String nextAfter) {

    public static final int DEFAULT_LIMIT = 50;
    public static final int MAX_LIMIT = 500;

    /** Reads {@code ?limit=}: 1..500, 50 when absent; anything else is a 400 naming the parameter. */
    public static int limit(String value) {
        QueryParams params = new QueryParams();
        int limit = params.limit(value);
        params.check();
        return limit;
    }
}
