package dev.atelier.api;

import io.quarkus.runtime.annotations.RegisterForReflection;
import java.util.List;
import java.util.function.Function;

/** A keyset-paged list (API.md, conventions): {@code {"items": [...], "next_after": "<cursor>" | null}}. */
@RegisterForReflection
public record Page<T>(List<T> items, String nextAfter) {

    public static final int DEFAULT_LIMIT = 50;
    public static final int MAX_LIMIT = 500;

    /**
     * A page from a keyset query that asked for one row more than {@code limit}: that extra row only says whether
     * another page follows, whose cursor is the last item shown.
     */
    public static <T> Page<T> of(List<T> fetched, int limit, Function<T, String> cursor) {
        List<T> items = fetched.size() > limit ? List.copyOf(fetched.subList(0, limit)) : fetched;
        return new Page<>(items, fetched.size() > limit ? cursor.apply(items.get(items.size() - 1)) : null);
    }

    /** Reads {@code ?limit=}: 1..500, 50 when absent; anything else is a 400 naming the parameter. */
    public static int limit(String value) {
        QueryParams params = new QueryParams();
        int limit = params.limit(value);
        params.check();
        return limit;
    }
}
