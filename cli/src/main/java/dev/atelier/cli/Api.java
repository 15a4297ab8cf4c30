package dev.atelier.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.StringJoiner;

/**
 * The HTTP API of the gateway (writes) and the ledger (reads), and nothing else: the CLI never touches the database.
 * Errors come back as {@link ApiException} (the service's problem answer) or {@link Unreachable}.
 */
public final class Api {

    public enum Service {
        GATEWAY("gateway", "--gateway or ATELIER_GATEWAY_URL"),
        LEDGER("ledger", "--ledger or ATELIER_LEDGER_URL");

        final String label;
        final String setting;

        Service(String label, String setting) {
            this.label = label;
            this.setting = setting;
        }
    }

    /** A service could not be reached at all; loops that watch or follow wait and try again. */
    public static final class Unreachable extends CliException {
        private final boolean neverSent;

        Unreachable(Service service, URI base, Exception cause) {
            super("cannot reach the " + service.label + " at " + base + " (" + reason(cause) + "); is it running? "
                    + "Set " + service.setting + ".", cause);
            this.neverSent = cause instanceof ConnectException || cause instanceof HttpConnectTimeoutException;
        }

        /** No connection was made, so the request cannot have reached the service. */
        public boolean neverSent() {
            return neverSent;
        }

        private static String reason(Exception cause) {
            if (cause instanceof HttpConnectTimeoutException) {
                return "connect timed out";
            }
            if (cause instanceof HttpTimeoutException) {
                return "no answer in time";
            }
            if (cause instanceof ConnectException) {
                return "connection refused";
            }
            return cause.getMessage() != null ? cause.getMessage() : cause.getClass().getSimpleName();
        }
    }

    public record Answer(int status, JsonNode body) {
    }

    private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(30);
    private final Settings settings;
    private final ObjectMapper json;
    private final HttpClient http;

    public Api(Settings settings, ObjectMapper json) {
        this.settings = settings;
        this.json = json;
        this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5)).followRedirects(HttpClient.Redirect.NORMAL).build();
    }

    public URI base(Service service) {
        return service == Service.GATEWAY ? settings.gateway() : settings.ledger();
    }

    public JsonNode get(Service service, String path) {
        return send(service, "GET", path, null, Map.of()).body();
    }

    /** Every item of a keyset-paged list ({@code items}, {@code next_after}), fetched 500 at a time. */
    public ArrayNode all(Service service, String path, Object... query) {
        ArrayNode items = json.createArrayNode();
        String after = null;
        do {
            Object[] page = Arrays.copyOf(query, query.length + 4);
            page[query.length] = "limit";
            page[query.length + 1] = 500;
            page[query.length + 2] = "after";
            page[query.length + 3] = after;
            JsonNode answer = get(service, path(path, page));
            answer.path("items").forEach(items::add);
            after = answer.path("next_after").isTextual() ? answer.path("next_after").asText() : null;
        } while (after != null);
        return items;
    }

    public Answer post(Service service, String path, JsonNode body, Map<String, String> headers) {
        return send(service, "POST", path, body, headers);
    }

    public Answer send(Service service, String method, String path, JsonNode body, Map<String, String> headers) {
        HttpRequest.Builder request = request(service, path).timeout(REQUEST_TIMEOUT)
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body.toString(), StandardCharsets.UTF_8));
        if (body != null) {
            request.header("Content-Type", "application/json");
        }
        headers.forEach(request::header);
        HttpResponse<byte[]> response = call(service, request.build(), HttpResponse.BodyHandlers.ofByteArray());
        JsonNode answer = parse(service, response.statusCode(), response.body());
        if (response.statusCode() >= 400) {
            throw new ApiException(service.label, response.statusCode(), answer, retryAfter(response));
        }
        return new Answer(response.statusCode(), answer);
    }

    /** A streamed body (an export, an artifact); the caller closes it. */
    public InputStream stream(Service service, String path) {
        HttpResponse<InputStream> response = call(service, request(service, path).GET().build(),
                HttpResponse.BodyHandlers.ofInputStream());
        if (response.statusCode() >= 400) {
            try (InputStream body = response.body()) {
                throw new ApiException(service.label, response.statusCode(),
                        parse(service, response.statusCode(), body.readAllBytes()), retryAfter(response));
            } catch (IOException e) {
                throw new Unreachable(service, base(service), e);
            }
        }
        return response.body();
    }

    /** The service's readiness ({@code /q/health/ready}, no token needed): true when it answers 200. */
    public boolean ready(Service service) {
        HttpRequest request = HttpRequest.newBuilder(uri(service, "/q/health/ready"))
                .timeout(Duration.ofSeconds(5)).GET().build();
        return call(service, request, HttpResponse.BodyHandlers.discarding()).statusCode() == 200;
    }

    private HttpRequest.Builder request(Service service, String path) {
        HttpRequest.Builder request = HttpRequest.newBuilder(uri(service, path))
                .header("Accept", "application/json, application/problem+json, */*")
                .header("User-Agent", "atelier-cli");
        if (settings.token() != null) {
            request.header("Authorization", "Bearer " + settings.token());
        }
        return request;
    }

    /** The base URL and the path, appended: a gateway behind a proxy at {@code https://host/atelier} keeps its prefix. */
    private URI uri(Service service, String path) {
        return URI.create(base(service) + path);
    }

    private <T> HttpResponse<T> call(Service service, HttpRequest request, HttpResponse.BodyHandler<T> handler) {
        try {
            return http.send(request, handler);
        } catch (IOException e) {
            throw new Unreachable(service, base(service), e);
        } catch (InterruptedException e) {
            throw new StopOnSignal.Stopped(); // only a stop interrupts the command (see StopOnSignal)
        }
    }

    private static long retryAfter(HttpResponse<?> response) {
        try {
            return response.headers().firstValue("Retry-After").map(Long::parseLong).orElse(-1L);
        } catch (NumberFormatException httpDate) {
            return -1;
        }
    }

    private JsonNode parse(Service service, int status, byte[] body) {
        if (body.length == 0) {
            return json.createObjectNode();
        }
        try {
            return json.readTree(body);
        } catch (IOException e) {
            if (status >= 400) {
                // not a problem document (a proxy's page, say): show its first line
                String text = CliException.firstLine(new String(body, StandardCharsets.UTF_8).strip());
                return json.createObjectNode().put("detail", text.length() > 200 ? text.substring(0, 200) : text);
            }
            throw new CliException("the " + service.label + " answered " + status + " with a body that is not JSON");
        }
    }

    /** {@code path?k=v&...} with each value URL-encoded; null values are left out. */
    public static String path(String path, Object... keysAndValues) {
        Map<String, Object> query = new LinkedHashMap<>();
        for (int i = 0; i + 1 < keysAndValues.length; i += 2) {
            if (keysAndValues[i + 1] != null) {
                query.put((String) keysAndValues[i], keysAndValues[i + 1]);
            }
        }
        if (query.isEmpty()) {
            return path;
        }
        StringJoiner joined = new StringJoiner("&", path + "?", "");
        query.forEach((k, v) -> joined.add(k + "=" + URLEncoder.encode(String.valueOf(v), StandardCharsets.UTF_8)));
        return joined.toString();
    }

    /** A path segment from user input (an id, a crew name), encoded so it cannot change the path. */
    public static String segment(String value) {
        return URLEncoder.encode(value, StandardCharsets.UTF_8).replace("+", "%20");
    }
}
