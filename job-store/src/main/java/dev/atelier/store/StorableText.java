package dev.atelier.store;

/**
 * Text PostgreSQL can store. It refuses U+0000 in {@code text} and in {@code jsonb} ("unsupported Unicode escape
 * sequence"), and a UTF-16 surrogate without its pair has no UTF-8 form at all. Models do emit both (the byte-fallback
 * token {@code <0x00>} arrives as {@code \u0000}; a stream cut inside an emoji leaves half a pair), so every string
 * from a backend passes through here before it is stored: each such character becomes U+FFFD, which keeps the text's
 * shape and shows where something was.
 */
public final class StorableText {

    public static final char REPLACEMENT = '\uFFFD';

    private StorableText() {
    }

    /** How many characters of {@code text} PostgreSQL could not store. */
    public static int unstorable(CharSequence text) {
        if (text == null) {
            return 0;
        }
        int count = 0;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == 0) {
                count++;
            } else if (Character.isHighSurrogate(c)) {
                if (i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
                    i++;
                } else {
                    count++;
                }
            } else if (Character.isLowSurrogate(c)) {
                count++;
            }
        }
        return count;
    }

    /** {@code text} with every character PostgreSQL could not store replaced by U+FFFD; the same string if none. */
    public static String clean(String text) {
        if (unstorable(text) == 0) {
            return text;
        }
        StringBuilder out = new StringBuilder(text.length());
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
                out.append(c).append(text.charAt(++i));
            } else if (c == 0 || Character.isSurrogate(c)) {
                out.append(REPLACEMENT);
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }
}
