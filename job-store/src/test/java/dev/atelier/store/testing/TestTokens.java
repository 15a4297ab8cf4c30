package dev.atelier.store.testing;

import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;

/**
 * Bearer tokens for a test of a packaged application, which runs the prod profile (auth on): one {@code submit}
 * and one {@code read} token, configured as {@code name:role:hex-sha256} entries.
 */
public class TestTokens implements QuarkusTestResourceLifecycleManager {

    public static final String SUBMIT = "it-submit-secret";
    public static final String READ = "it-read-secret";

    @Override
    public Map<String, String> start() {
        return Map.of("atelier.auth.tokens", "it:submit:" + sha256(SUBMIT) + ",wall:read:" + sha256(READ));
    }

    @Override
    public void stop() {
        // nothing to stop
    }

    public static String sha256(String token) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
