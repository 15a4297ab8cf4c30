package dev.atelier.cli;

import com.fasterxml.jackson.databind.JsonNode;

/** An error answer from the API, shown as its RFC 9457 problem: title, detail and one line per bad field. */
public final class ApiException extends CliException {

    private final int status;
    private final long retryAfterSeconds;

    ApiException(String service, int status, JsonNode problem, long retryAfterSeconds) {
        super(describe(service, status, problem));
        this.status = status;
        this.retryAfterSeconds = retryAfterSeconds;
    }

    public int status() {
        return status;
    }

    /** The service's {@code Retry-After} in seconds, or -1 when it gave none. */
    public long retryAfterSeconds() {
        return retryAfterSeconds;
    }

    /** The database or the service is away for a moment (503), so a loop may try again. */
    public boolean isTransient() {
        return status == 503 || status == 502 || status == 504;
    }

    private static String describe(String service, int status, JsonNode problem) {
        StringBuilder text = new StringBuilder();
        String title = problem.path("title").asText("");
        String detail = problem.path("detail").asText("");
        text.append(service).append(" answered ").append(status);
        if (!title.isBlank()) {
            text.append(' ').append(title);
        }
        if (!detail.isBlank() && !detail.equals(title)) {
            text.append(": ").append(detail);
        }
        for (JsonNode error : problem.path("errors")) {
            text.append(System.lineSeparator()).append("  ").append(error.path("field").asText("?"))
                    .append(": ").append(error.path("message").asText(""));
        }
        if (status == 401) {
            text.append(System.lineSeparator()).append("  give a token with --token, ATELIER_TOKEN or the config file"
                    + " (atelier --help shows where)");
        } else if (status == 403) {
            text.append(System.lineSeparator()).append("  this token's role may not do that; the answer above names the"
                    + " role it needs (read < submit < admin: submit also acts on its own batches, admin on crews and"
                    + " on anyone's batches)");
        }
        return text.toString();
    }
}
