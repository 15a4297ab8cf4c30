package dev.atelier.api;

import io.quarkus.runtime.configuration.MemorySize;
import io.vertx.core.json.Json;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Singleton;
import java.util.Optional;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * Problem responses for what never reaches the REST layer: a path nothing serves, and a body over the HTTP
 * layer's limit ({@code quarkus.http.limits.max-body-size}).
 */
@Singleton
public class ProblemRoutes {

    @ConfigProperty(name = "quarkus.http.limits.max-body-size")
    Optional<MemorySize> maxBodySize;

    void install(@Observes Router router) {
        maxBodySize.ifPresent(limit -> router.route().order(Integer.MIN_VALUE).handler(ctx -> {
            // The HTTP layer would answer a bare 413; refuse the announced size first, as a problem.
            // (A chunked body over the limit still gets the HTTP layer's bare 413.)
            if (announcedLength(ctx) > limit.asLongValue()) {
                ctx.response().putHeader("Connection", "close");
                write(ctx, Problem.of(413, "the body is larger than the " + limit.asLongValue() + " bytes this server accepts"));
            } else {
                ctx.next();
            }
        }));
        router.route().order(Integer.MAX_VALUE).handler(ctx ->
                write(ctx, Problem.of(404, "nothing at " + ctx.normalizedPath())));
    }

    private static long announcedLength(RoutingContext ctx) {
        String length = ctx.request().getHeader("Content-Length");
        try {
            return length == null ? -1 : Long.parseLong(length.trim());
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private static void write(RoutingContext ctx, Problem problem) {
        if (ctx.response().ended()) {
            return;
        }
        ctx.response().setStatusCode(problem.status())
                .putHeader("Content-Type", Problem.MEDIA_TYPE)
                .end(Json.encode(problem));
    }
}
