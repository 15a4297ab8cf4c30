package dev.atelier.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Where the gateway and the ledger are, and the token: from the command line, else the environment
 * ({@code ATELIER_GATEWAY_URL}, {@code ATELIER_LEDGER_URL}, {@code ATELIER_TOKEN}), else the config file
 * ({@code $ATELIER_CONFIG}, or {@code atelier/config.yaml} in {@code $XDG_CONFIG_HOME} or {@code ~/.config}),
 * else the local run's defaults.
 */
public record Settings(URI gateway, URI ledger, String token) {

    static final String DEFAULT_GATEWAY = "http://localhost:8080";
    static final String DEFAULT_LEDGER = "http://localhost:8081";

    static Settings resolve(String gatewayOption, String ledgerOption, String tokenOption, Map<String, String> env) {
        JsonNode file = readConfigFile(configFile(env));
        String gateway = first(gatewayOption, env.get("ATELIER_GATEWAY_URL"), file.path("gateway").asText(null),
                DEFAULT_GATEWAY);
        String ledger = first(ledgerOption, env.get("ATELIER_LEDGER_URL"), file.path("ledger").asText(null),
                DEFAULT_LEDGER);
        String token = first(tokenOption, env.get("ATELIER_TOKEN"), file.path("token").asText(null), null);
        return new Settings(url("gateway", gateway), url("ledger", ledger), token);
    }

    /** The config file this environment names, whether or not it exists. */
    static Path configFile(Map<String, String> env) {
        if (present(env.get("ATELIER_CONFIG"))) {
            return Path.of(env.get("ATELIER_CONFIG"));
        }
        Path base = present(env.get("XDG_CONFIG_HOME"))
                ? Path.of(env.get("XDG_CONFIG_HOME"))
                : Path.of(System.getProperty("user.home"), ".config");
        return base.resolve("atelier").resolve("config.yaml");
    }

    private static JsonNode readConfigFile(Path file) {
        ObjectMapper yaml = new ObjectMapper(new YAMLFactory());
        if (!Files.isRegularFile(file)) {
            return yaml.createObjectNode();
        }
        try {
            JsonNode config = yaml.readTree(file.toFile());
            if (config == null || config.isMissingNode() || config.isNull()) {
                return yaml.createObjectNode();
            }
            if (!config.isObject()) {
                throw new CliException("config file " + file + " must be a map of gateway, ledger and token");
            }
            return config;
        } catch (IOException e) {
            throw new CliException("cannot read the config file " + file + ": " + e.getMessage());
        }
    }

    private static URI url(String which, String text) {
        try {
            URI uri = URI.create(text.endsWith("/") ? text.substring(0, text.length() - 1) : text);
            if (!"http".equals(uri.getScheme()) && !"https".equals(uri.getScheme()) || uri.getHost() == null) {
                throw new IllegalArgumentException("not an http(s) URL");
            }
            return uri;
        } catch (IllegalArgumentException e) {
            throw new CliException("the " + which + " URL '" + text + "' is not an http(s) URL");
        }
    }

    private static String first(String... values) {
        for (String value : values) {
            if (present(value)) {
                return value.trim();
            }
        }
        return null;
    }

    private static boolean present(String value) {
        return value != null && !value.isBlank();
    }
}
