package dev.atelier.api;

import com.fasterxml.jackson.databind.JsonNode;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.core.MultivaluedMap;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.ext.Provider;
import jakarta.ws.rs.ext.ReaderInterceptor;
import jakarta.ws.rs.ext.ReaderInterceptorContext;
import java.io.IOException;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.jboss.resteasy.reactive.server.ServerRequestFilter;

/**
 * U+0000 anywhere in a request to /api/** (its path, a query parameter's name or value, any string or field name of a
 * JSON body) is a 400 that names where: PostgreSQL cannot store it, and no text Atelier takes has a use for it. Done
 * here, once, for every endpoint, so that no new field or parameter can miss it.
 */
@Provider
public class RequestText implements ReaderInterceptor {

    static final String NUL_MESSAGE = "must not contain U+0000 (a NUL character)";

    @ServerRequestFilter
    public Response pathAndQuery(ContainerRequestContext request) {
        if (!request.getUriInfo().getPath().startsWith("/api/")) {
            return null;
        }
        if (hasNul(request.getUriInfo().getPath())) {
            return invalid("path");
        }
        MultivaluedMap<String, String> query = request.getUriInfo().getQueryParameters();
        for (Map.Entry<String, List<String>> parameter : query.entrySet()) {
            if (hasNul(parameter.getKey()) || parameter.getValue().stream().anyMatch(RequestText::hasNul)) {
                return invalid(parameter.getKey().replace('\0', '?'));
            }
        }
        return null;
    }

    /** After a JSON body is read: the first string or field name holding U+0000, named as the client wrote it. */
    @Override
    public Object aroundReadFrom(ReaderInterceptorContext context) throws IOException {
        Object body = context.proceed();
        if (body instanceof JsonNode json) {
            String where = firstNul(json);
            if (where != null) {
                throw new ProblemException(Problem.invalid("the body holds a NUL character",
                        List.of(new Problem.FieldError(where.isEmpty() ? "body" : where, NUL_MESSAGE))));
            }
        }
        return body;
    }

    /**
     * Where the first string or field name holding U+0000 is, as the client wrote it ({@code jobs[3].prompt}; empty
     * for the body itself), or null. The name is built only for the one found: a 10,000-job body has 60,000 fields.
     */
    private static String firstNul(JsonNode node) {
        if (node.isTextual()) {
            return hasNul(node.textValue()) ? "" : null;
        }
        if (node.isObject()) {
            for (Iterator<Map.Entry<String, JsonNode>> fields = node.fields(); fields.hasNext(); ) {
                Map.Entry<String, JsonNode> field = fields.next();
                if (hasNul(field.getKey())) {
                    return field.getKey().replace('\0', '?');
                }
                String inside = firstNul(field.getValue());
                if (inside != null) {
                    return inside.isEmpty() || inside.startsWith("[") ? field.getKey() + inside
                            : field.getKey() + "." + inside;
                }
            }
        } else if (node.isArray()) {
            for (int i = 0; i < node.size(); i++) {
                String inside = firstNul(node.get(i));
                if (inside != null) {
                    return "[" + i + "]" + (inside.isEmpty() || inside.startsWith("[") ? inside : "." + inside);
                }
            }
        }
        return null;
    }

    private static boolean hasNul(String text) {
        return text != null && text.indexOf('\0') >= 0;
    }

    private static Response invalid(String parameter) {
        return Problem.invalid("the request holds a NUL character",
                List.of(new Problem.FieldError(parameter, NUL_MESSAGE))).toResponse();
    }
}
