package dev.atelier.api.auth;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The configured bearer tokens, held as SHA-256 hashes only: {@code name:role:hex-sha256} entries. A presented
 * token is hashed and looked up; the token itself is never stored or logged.
 */
public final class Tokens {

    /** Who a token belongs to. */
    public record Holder(String name, Role role) {
    }

    private static final Pattern HASH = Pattern.compile("[0-9a-f]{64}");
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._-]{1,64}");

    private final Map<String, Holder> byHash;

    private Tokens(Map<String, Holder> byHash) {
        this.byHash = byHash;
    }

    /**
     * Reads the entries; an entry that is not {@code name:role:hex-sha256} stops the service with a message that
     * says which one and why (it never repeats the hash).
     */
    public static Tokens parse(List<String> entries) {
        Map<String, Holder> byHash = new HashMap<>();
        List<String> problems = new ArrayList<>();
        for (int i = 0; i < entries.size(); i++) {
            String entry = entries.get(i).trim();
            if (entry.isEmpty()) {
                continue;
            }
            String[] parts = entry.split(":", -1);
            String where = "atelier.auth.tokens entry " + (i + 1);
            if (parts.length != 3) {
                problems.add(where + " must be name:role:hex-sha256");
                continue;
            }
            String name = parts[0].trim();
            String hash = parts[2].trim().toLowerCase(Locale.ROOT);
            if (!NAME.matcher(name).matches()) {
                problems.add(where + ": the name must match [A-Za-z0-9._-]{1,64}");
            }
            Role role;
            try {
                role = Role.parse(parts[1]);
            } catch (IllegalArgumentException e) {
                problems.add(where + " (" + name + "): the role must be read, submit or admin");
                continue;
            }
            if (!HASH.matcher(hash).matches()) {
                problems.add(where + " (" + name + "): the hash must be 64 hex digits (sha256 of the token)");
                continue;
            }
            byHash.put(hash, new Holder(name, role));
        }
        if (!problems.isEmpty()) {
            throw new IllegalStateException(String.join("; ", problems));
        }
        return new Tokens(Map.copyOf(byHash));
    }

    public boolean isEmpty() {
        return byHash.isEmpty();
    }

    /** The holder of a presented token, if it is one of ours. */
    public Optional<Holder> holderOf(String token) {
        return Optional.ofNullable(byHash.get(sha256(token)));
    }

    /** The hex SHA-256 of a token, as configured: {@code printf %s "$TOKEN" | sha256sum}. */
    public static String sha256(String token) {
        return HexFormat.of().formatHex(newSha256().digest(token.getBytes(StandardCharsets.UTF_8)));
    }

    /** Every JVM has SHA-256 (the Java SE specification requires it). */
    public static MessageDigest newSha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
