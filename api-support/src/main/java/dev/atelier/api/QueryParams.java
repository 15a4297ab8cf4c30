package dev.atelier.api;

import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * Reads query parameters and collects what is wrong with them, so that one 400 names every bad parameter (API.md:
 * a bad filter value is a 400, never a 500). Call {@link #check()} once all are read.
 */
public final class QueryParams {

    private static final Pattern LABEL_KEY = Pattern.compile("[A-Za-z0-9._-]{1,63}");

    /**
     * The times both {@code java.time} and PostgreSQL's {@code timestamptz} can hold (4713 BC to 294276 AD): a time
     * outside reached the database as an error, a 500, before.
     */
    static final Instant EARLIEST = Instant.parse("-4712-01-01T00:00:00Z");
    static final Instant LATEST = Instant.parse("+294276-12-31T23:59:59Z");

    private final List<Problem.FieldError> errors = new ArrayList<>();

    /** A UUID, or null when absent. */
    public UUID uuid(String name, String value) {
        if (absent(value)) {
            return null;
        }
        try {
            return UUID.fromString(value.trim());
        } catch (IllegalArgumentException e) {
            return reject(name, "must be a UUID");
        }
    }

    /** An ISO-8601 instant ({@code 2026-01-12T02:00:00Z}), or null when absent. */
    public Instant instant(String name, String value) {
        if (absent(value)) {
            return null;
        }
        try {
            Instant time = Instant.parse(value.trim());
            if (time.isBefore(EARLIEST) || time.isAfter(LATEST)) {
                return reject(name, "must be between " + EARLIEST + " and " + LATEST + ", the times PostgreSQL can hold");
            }
            return time;
        } catch (DateTimeParseException e) {
            return reject(name, "must be an ISO-8601 UTC time such as 2026-01-12T02:00:00Z");
        }
    }

    /**
     * Free text to search for, trimmed, or null when absent. PostgreSQL's text cannot hold U+0000, and a search
     * longer than any name it could match is a mistake, so both are refused here rather than reaching the database.
     */
    public String text(String name, String value, int maxLength) {
        if (absent(value)) {
            return null;
        }
        String text = value.trim();
        if (text.indexOf('\u0000') >= 0) {
            return reject(name, "must not contain U+0000");
        }
        if (text.codePointCount(0, text.length()) > maxLength) {
            return reject(name, "must be at most " + maxLength + " characters");
        }
        return text;
    }

    /** A number from 0 up, {@code fallback} when absent. */
    public long nonNegative(String name, String value, long fallback) {
        if (absent(value)) {
            return fallback;
        }
        try {
            long n = Long.parseLong(value.trim());
            if (n >= 0) {
                return n;
            }
        } catch (NumberFormatException ignored) {
            // rejected below
        }
        reject(name, "must be a whole number from 0 up");
        return fallback;
    }

    /** A whole number from {@code min} to {@code max}, {@code fallback} when absent. */
    public int between(String name, String value, int fallback, int min, int max) {
        if (absent(value)) {
            return fallback;
        }
        try {
            int n = Integer.parseInt(value.trim());
            if (n >= min && n <= max) {
                return n;
            }
        } catch (NumberFormatException ignored) {
            // rejected below
        }
        reject(name, "must be a whole number from " + min + " to " + max);
        return fallback;
    }

    /** One of a few whole numbers ({@code ?size=256}), or null when absent. */
    public Integer oneOfNumbers(String name, String value, java.util.SortedSet<Integer> allowed) {
        if (absent(value)) {
            return null;
        }
        try {
            int n = Integer.parseInt(value.trim());
            if (allowed.contains(n)) {
                return n;
            }
        } catch (NumberFormatException ignored) {
            // rejected below
        }
        return reject(name, "must be one of " + allowed.stream().map(String::valueOf)
                .collect(java.util.stream.Collectors.joining(", ")));
    }

    /** {@code ?limit=}: 1..500, 50 when absent (API.md, conventions). */
    public int limit(String value) {
        return (int) inRange("limit", value, 1, Page.MAX_LIMIT, Page.DEFAULT_LIMIT);
    }

    private long inRange(String name, String value, long min, long max, long fallback) {
        if (absent(value)) {
            return fallback;
        }
        try {
            long n = Long.parseLong(value.trim());
            if (n >= min && n <= max) {
                return n;
            }
        } catch (NumberFormatException ignored) {
            // rejected below
        }
        reject(name, "must be an integer from " + min + " to " + max);
        return fallback;
    }

    /**
     * Words from a fixed set, given comma-separated, repeated, or both ({@code ?state=pending,retry}); empty when
     * absent.
     */
    public <T> Set<T> oneOf(String name, List<String> values, Map<String, T> allowed) {
        Set<T> chosen = new LinkedHashSet<>();
        for (String value : values == null ? List.<String>of() : values) {
            for (String word : value.split(",")) {
                String w = word.trim().toLowerCase(Locale.ROOT);
                if (w.isEmpty()) {
                    continue;
                }
                T known = allowed.get(w);
                if (known == null) {
                    reject(name, "'" + word.trim() + "' is not one of " + String.join(", ", allowed.keySet()));
                } else {
                    chosen.add(known);
                }
            }
        }
        return chosen;
    }

    /** The allowed words of an enum, by its lower-case name. */
    public static <E extends Enum<E>> Map<String, E> words(Class<E> type, Function<E, String> wire) {
        Map<String, E> words = new LinkedHashMap<>();
        for (E e : type.getEnumConstants()) {
            words.put(wire.apply(e), e);
        }
        return words;
    }

    /** Labels as {@code key:value}, repeated for several (all must match); empty when absent. */
    public Map<String, String> labels(String name, List<String> values) {
        Map<String, String> labels = new LinkedHashMap<>();
        for (String value : values == null ? List.<String>of() : values) {
            int colon = value.indexOf(':');
            String key = colon < 0 ? value : value.substring(0, colon);
            if (colon < 0 || !LABEL_KEY.matcher(key).matches() || value.length() - colon - 1 > 256) {
                reject(name, "must be key:value with a key of [A-Za-z0-9._-]{1,63} and a value of at most 256 characters");
            } else {
                labels.put(key, value.substring(colon + 1));
            }
        }
        return labels;
    }

    /** Answers 400 naming every bad parameter read so far, if any. */
    public void check() {
        if (!errors.isEmpty()) {
            throw new ProblemException(Problem.invalid(
                    errors.size() == 1 ? "a query parameter is not valid" : errors.size() + " query parameters are not valid",
                    List.copyOf(errors)));
        }
    }

    private <T> T reject(String name, String message) {
        errors.add(new Problem.FieldError(name, message));
        return null;
    }

    private static boolean absent(String value) {
        return value == null || value.isBlank();
    }
}
