package dev.atelier.ledger.rest;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One byte range of a {@code Range} header (RFC 9110, 14.1.2): {@code bytes=first-last}, {@code bytes=first-} or
 * {@code bytes=-suffix}. Browsers ask for them to seek in a video. Several ranges at once are answered whole, as the
 * RFC allows.
 */
record ByteRange(long first, long last) {

    /** A range that starts past the end: answered 416. */
    static final ByteRange UNSATISFIABLE = new ByteRange(-1, -1);

    private static final Pattern ONE = Pattern.compile("bytes=(\\d{0,18})-(\\d{0,18})");

    /** The range asked for within {@code size} bytes, or null for the whole (no header, or one not understood). */
    static ByteRange parse(String header, long size) {
        if (header == null) {
            return null;
        }
        Matcher m = ONE.matcher(header.trim());
        if (!m.matches() || (m.group(1).isEmpty() && m.group(2).isEmpty())) {
            return null;
        }
        long first;
        long last;
        if (m.group(1).isEmpty()) { // the last n bytes
            long suffix = Long.parseLong(m.group(2));
            first = Math.max(0, size - suffix);
            last = size - 1;
            if (suffix == 0) {
                return UNSATISFIABLE;
            }
        } else {
            first = Long.parseLong(m.group(1));
            if (!m.group(2).isEmpty() && Long.parseLong(m.group(2)) < first) {
                return null; // an invalid range is ignored (RFC 9110, 14.2)
            }
            last = m.group(2).isEmpty() ? size - 1 : Math.min(size - 1, Long.parseLong(m.group(2)));
        }
        if (first >= size) {
            return UNSATISFIABLE;
        }
        return new ByteRange(first, last);
    }
}
