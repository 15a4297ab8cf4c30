package dev.atelier.api;

import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.container.ResourceInfo;
import jakarta.ws.rs.core.Response;
import java.lang.annotation.Annotation;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.jboss.resteasy.reactive.server.ServerRequestFilter;

/**
 * A query parameter the endpoint does not take is a 400 naming it: a misspelt filter ({@code ?satte=failed}) must
 * never answer with everything. Every /api/** endpoint is covered, from the {@code @QueryParam}s it declares.
 */
public class KnownQueryParams {

    @ServerRequestFilter
    public Response knownOnly(ContainerRequestContext request, ResourceInfo resource) {
        Method method = resource == null ? null : resource.getResourceMethod();
        if (method == null || !request.getUriInfo().getPath().startsWith("/api/")) {
            return null;
        }
        Set<String> known = new TreeSet<>();
        for (Annotation[] annotations : method.getParameterAnnotations()) {
            for (Annotation annotation : annotations) {
                if (annotation instanceof QueryParam query) {
                    known.add(query.value());
                }
            }
        }
        List<Problem.FieldError> errors = new ArrayList<>();
        for (String name : new TreeSet<>(request.getUriInfo().getQueryParameters().keySet())) {
            if (!known.contains(name)) {
                errors.add(new Problem.FieldError(name, known.isEmpty()
                        ? "is not a query parameter here: " + request.getMethod() + " takes none"
                        : "is not a query parameter here; " + request.getMethod() + " takes " + String.join(", ", known)));
            }
        }
        return errors.isEmpty() ? null : Problem.invalid(errors.size() == 1 ? "an unknown query parameter"
                : errors.size() + " unknown query parameters", errors).toResponse();
    }
}
