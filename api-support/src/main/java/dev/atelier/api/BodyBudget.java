package dev.atelier.api;

import io.quarkus.runtime.configuration.MemorySize;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.Json;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Singleton;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Semaphore;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * Keeps the bodies being read at once within a share of the heap. A parsed JSON body holds up to 30 bytes of heap
 * per byte sent (measured: {@code {}} costs 85 bytes, a short string 69) and, past the token cap
 * ({@link JsonLimits}), no more than 72 bytes per token; a chunked body is also held whole while it arrives. One
 * request is within any pod's means, but four at once took a 512 MiB gateway down. So each request with a body
 * reserves what it could cost before its body is read and gives it back when its answer has gone; a request that
 * finds the budget spent gets a 503 with Retry-After (the CLI waits and sends again), and nothing was read or stored.
 */
@Singleton
public class BodyBudget {

    /** Heap per body byte, at worst: a body of {@code {}} (measured with Jackson 2.21). */
    static final long HEAP_PER_BODY_BYTE = 30;
    /** Heap per JSON token, at worst: short strings. */
    static final long HEAP_PER_TOKEN = 72;
    private static final long MIB = 1 << 20;
    private static final Set<HttpMethod> BODY_METHODS = Set.of(HttpMethod.POST, HttpMethod.PUT, HttpMethod.PATCH);

    @ConfigProperty(name = "atelier.http.body-budget")
    Optional<MemorySize> configured;

    @ConfigProperty(name = "quarkus.http.limits.max-body-size")
    Optional<MemorySize> maxBodySize;

    @ConfigProperty(name = "atelier.json.max-tokens", defaultValue = "1000000")
    long maxTokens;

    private Semaphore mebibytes;
    private long budgetMib;

    void install(@Observes Router router) {
        // half the heap unless told: the rest is the service's own, and room for the collector to work
        budgetMib = Math.max(1, configured.map(MemorySize::asLongValue).orElse(Runtime.getRuntime().maxMemory() / 2) / MIB);
        mebibytes = new Semaphore((int) Math.min(Integer.MAX_VALUE, budgetMib));
        router.route().order(Integer.MIN_VALUE).handler(this::reserve);
    }

    private void reserve(RoutingContext ctx) {
        if (!BODY_METHODS.contains(ctx.request().method())) {
            ctx.next();
            return;
        }
        long announced = ProblemRoutes.announcedLength(ctx);
        if (announced == 0 || maxBodySize.isPresent() && announced > maxBodySize.get().asLongValue()) {
            ctx.next(); // nothing to read, or refused unread with a 413 next
            return;
        }
        int cost = (int) Math.min(budgetMib, Math.max(1, costBytes(announced) / MIB));
        if (!mebibytes.tryAcquire(cost)) {
            Problem busy = Problem.of(503, "this server is reading other large bodies (its " + budgetMib
                    + " MiB for them is spent); send again in a moment");
            ctx.response().setStatusCode(503).putHeader("Retry-After", "2").putHeader("Connection", "close")
                    .putHeader("Content-Type", Problem.MEDIA_TYPE).end(Json.encode(busy));
            return;
        }
        ctx.addEndHandler(done -> mebibytes.release(cost));
        ctx.next();
    }

    /** The heap a body of this announced length (-1: unknown, chunked) may take while it is read and parsed. */
    long costBytes(long announced) {
        long mostParsed = maxTokens * HEAP_PER_TOKEN;
        if (announced < 0) {
            // held whole as it arrives, and copied once for the REST layer
            return mostParsed + 2 * maxBodySize.map(MemorySize::asLongValue).orElse(mostParsed);
        }
        return Math.min(announced * HEAP_PER_BODY_BYTE, mostParsed);
    }
}
