package dev.atelier.cli;

import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Durations and times as people type them ({@code 10}, {@code 10s}, {@code 2m}, {@code 1h30m}, ISO) and read them. */
public final class Durations {

    private static final Pattern HUMAN = Pattern.compile("(?:(\\d+)d)?(?:(\\d+)h)?(?:(\\d+)m(?!s))?(?:(\\d+)s)?(?:(\\d+)ms)?");

    private Durations() {
    }

    /** {@code 10} (seconds, the old runner's habit), {@code 10s}, {@code 500ms}, {@code 2m}, {@code 1h30m}, {@code 30d}, {@code PT10S}. */
    public static Duration parse(String option, String text) {
        String t = text.trim().toLowerCase(Locale.ROOT);
        try {
            if (t.matches("\\d+(\\.\\d+)?")) {
                return Duration.ofMillis(Math.round(Double.parseDouble(t) * 1000));
            }
            if (t.startsWith("pt") || t.startsWith("p")) {
                return Duration.parse(t.toUpperCase(Locale.ROOT));
            }
            Matcher m = HUMAN.matcher(t);
            if (!t.isEmpty() && m.matches()) {
                return Duration.ofDays(number(m.group(1))).plusHours(number(m.group(2))).plusMinutes(number(m.group(3)))
                        .plusSeconds(number(m.group(4))).plusMillis(number(m.group(5)));
            }
        } catch (DateTimeParseException | ArithmeticException e) {
            // fall through to the message
        }
        throw new CliException(option + " '" + text + "' is not a duration: write 10 or 10s, 500ms, 2m, 1h30m, 30d or PT10S");
    }

    /** An instant ({@code 2026-01-12T02:00:00Z}) or a time ago ({@code 2h} means two hours before now). */
    public static Instant instant(String option, String text, Instant now) {
        try {
            return Instant.parse(text.trim());
        } catch (DateTimeParseException notAnInstant) {
            try {
                return now.minus(parse(option, text));
            } catch (CliException notADuration) {
                throw new CliException(option + " '" + text + "' is neither a time (2026-01-12T02:00:00Z) nor a time "
                        + "ago (30m, 2h)");
            }
        }
    }

    /** {@code 0:42}, {@code 12:05}, {@code 1:02:03}. */
    public static String clock(double seconds) {
        long s = Math.max(0, Math.round(seconds));
        return s >= 3600
                ? String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
                : String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60);
    }

    /** {@code 850ms}, {@code 4.2s}, {@code 3m 12s}: an attempt's or a job's length. */
    public static String shortly(double seconds) {
        if (seconds < 1) {
            return Math.round(seconds * 1000) + "ms";
        }
        if (seconds < 60) {
            return String.format(Locale.ROOT, "%.1fs", seconds);
        }
        long s = Math.round(seconds);
        return s >= 3600 ? (s / 3600) + "h " + (s / 60 % 60) + "m" : (s / 60) + "m " + (s % 60) + "s";
    }

    /** {@code 3s ago}, {@code 5m ago}: when something was last seen. */
    public static String ago(Instant then, Instant now) {
        long s = Math.max(0, Duration.between(then, now).getSeconds());
        if (s < 60) {
            return s + "s ago";
        }
        if (s < 3600) {
            return s / 60 + "m ago";
        }
        return s < 86400 ? s / 3600 + "h ago" : s / 86400 + "d ago";
    }

    private static long number(String group) {
        return group == null ? 0 : Long.parseLong(group);
    }
}
