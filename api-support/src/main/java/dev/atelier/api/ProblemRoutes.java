package dev.atelier.api;

import io.quarkus.runtime.configuration.MemorySize;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.Json;
import io.vertx.ext.web.handler.BodyHandler;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Singleton;
import java.util.Optional;
import java.util.Set;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * Problem responses for what never reaches the REST layer: a path nothing serves, and a body over the HTTP
 * layer's limit ({@code quarkus.http.limits.max-body-size}), whether it announced its length or came in chunks.
 */
@Singleton
public class ProblemRoutes {

    @ConfigProperty(name = "quarkus.http.limits.max-body-size")
    Optional<MemorySize> maxBodySize;

    void install(@Observes Router router) {
        maxBodySize.ifPresent(limit -> {
            // The HTTP layer would answer a bare 413: refuse an announced size over the limit first, as a problem.
            // A body without a length (chunked) is read here, up to the limit (the REST layer then takes it from
            // here); past the limit the body handler fails the request with 413, answered as a problem below.
            BodyHandler chunkedBodies = BodyHandler.create(false).setBodyLimit(limit.asLongValue());
            Problem tooLarge = Problem.of(413, "the body is larger than the " + limit.asLongValue()
                    + " bytes this server accepts");
            // after BodyBudget's reservation (Integer.MIN_VALUE)
            router.route().order(Integer.MIN_VALUE + 1).handler(ctx -> {
                long announced = announcedLength(ctx);
                if (announced > limit.asLongValue()) {
                    ctx.response().putHeader("Connection", "close");
                    write(ctx, tooLarge);
                } else if (announced < 0 && BODY_METHODS.contains(ctx.request().method())) {
                    chunkedBodies.handle(ctx);
                } else {
                    ctx.next();
                }
            }).failureHandler(ctx -> {
                if (ctx.statusCode() == 413) {
                    ctx.response().putHeader("Connection", "close");
                    write(ctx, tooLarge);
                } else {
                    ctx.next();
                }
            });
        });
        router.route().order(Integer.MAX_VALUE).handler(ctx ->
                write(ctx, Problem.of(404, "nothing at " + ctx.normalizedPath())));
    }

    private static final Set<HttpMethod> BODY_METHODS = Set.of(HttpMethod.POST, HttpMethod.PUT, HttpMethod.PATCH);

    static long announcedLength(RoutingContext ctx) {
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
