package dev.atelier.system;

import com.fasterxml.jackson.databind.MappingIterator;
import dev.atelier.client.ledger.model.LedgerLine;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;

/**
 * The Java clients OpenAPI Generator makes of docs/openapi/ at build time (system-tests' pom), pointed at a stack,
 * each with a bearer token as a team's script would hold it.
 */
final class GeneratedClients {

    private GeneratedClients() {
    }

    static dev.atelier.client.gateway.ApiClient gateway(Stack stack, String token) {
        var client = new dev.atelier.client.gateway.ApiClient();
        client.updateBaseUri(stack.url("gateway"));
        client.setRequestInterceptor(request -> request.header("Authorization", "Bearer " + token));
        return client;
    }

    static dev.atelier.client.ledger.ApiClient ledger(Stack stack, String token) {
        var client = new dev.atelier.client.ledger.ApiClient();
        client.updateBaseUri(stack.url("ledger"));
        client.setRequestInterceptor(request -> request.header("Authorization", "Bearer " + token));
        return client;
    }

    /**
     * A batch's ledger lines, each read into the generated {@link LedgerLine}. The generated {@code exportLedger} reads
     * only the first line of the stream (a generator knows no stream of JSON values), so the lines are read here
     * with the client's own HTTP client and object mapper.
     */
    static List<LedgerLine> ledgerLines(dev.atelier.client.ledger.ApiClient client, String batchId)
            throws IOException, InterruptedException {
        HttpRequest.Builder request = HttpRequest.newBuilder(
                URI.create(client.getBaseUri() + "/api/v1/exports/ledger.jsonl?batch=" + batchId));
        client.getRequestInterceptor().accept(request);
        HttpResponse<String> answer = client.getHttpClient()
                .send(request.build(), HttpResponse.BodyHandlers.ofString());
        if (answer.statusCode() != 200) {
            throw new IllegalStateException("ledger.jsonl answered " + answer.statusCode() + ": " + answer.body());
        }
        try (MappingIterator<LedgerLine> lines = client.getObjectMapper().readerFor(LedgerLine.class)
                .readValues(answer.body())) {
            return lines.readAll();
        }
    }
}
