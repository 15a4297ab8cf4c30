package dev.atelier.ledger.rest;

import dev.atelier.api.ProblemException;
import dev.atelier.api.QueryParams;
import dev.atelier.api.auth.Caller;
import dev.atelier.ledger.config.LedgerConfig;
import dev.atelier.ledger.service.ExportSlots;
import dev.atelier.store.BatchViews;
import dev.atelier.store.ExportLog;
import dev.atelier.store.ExportLog.ExportFilter;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import io.vertx.ext.web.RoutingContext;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.StreamingOutput;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.enums.SchemaType;
import org.eclipse.microprofile.openapi.annotations.headers.Header;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;
import org.jboss.logging.Logger;

/**
 * The JSONL exports. Each is streamed a page of lines at a time (a short transaction per page), so memory does not
 * grow with the export and a client that goes away stops it before the next page, holding no database connection. A
 * reader that stops reading is cut off by {@code quarkus.http.idle-timeout}; how many stream at once is capped per
 * token and per replica ({@link ExportSlots}).
 */
@Path("/api/v1/exports")
@Produces(ExportResource.NDJSON)
@Tag(name = "exports", description = "Streaming JSONL exports, resumable with after_seq")
public class ExportResource {

    static final String NDJSON = "application/x-ndjson";
    private static final Logger LOG = Logger.getLogger(ExportResource.class);
    private static final Map<String, String> LEDGER_STATUSES = words("success", "failed", "cancelled");
    private static final Map<String, String> EVENT_STATUSES = words("success", "failed", "cancelled", "handed_back");

    @Inject
    ExportLog log;

    @Inject
    BatchViews batches;

    @Inject
    LedgerConfig config;

    @Inject
    ExportSlots slots;

    @Inject
    Caller caller;

    /** A page reader: the lines after a seq, up to a count. */
    private interface Pages {
        ExportLog.Page after(ExportFilter filter, long afterSeq, int limit);
    }

    @GET
    @Path("ledger.jsonl")
    @Operation(operationId = "exportLedger",
            summary = "The ledger: a line each time a job reaches a terminal state",
            description = "Oldest first. Filters: batch, status, since (inclusive), until (exclusive), after_seq "
                    + "(resume after the last seq seen; no line is ever skipped: resuming before the lines retention "
                    + "removed is a 410 naming the seq to resume from).")
    @APIResponse(responseCode = "200", description = "the lines, streamed: each a JSON object of this schema",
            content = @Content(mediaType = NDJSON, schema = @Schema(ref = "LedgerLine")))
    @APIResponse(responseCode = "410", description = "after_seq is before the first line retention kept; the problem "
            + "names the seq to resume from")
    @APIResponse(responseCode = "429", description = "too many exports are streaming (for this token, or from this "
            + "replica): try again later", headers = @Header(name = "Retry-After", description = "seconds to wait",
            schema = @Schema(type = SchemaType.INTEGER)))
    public Response ledger(@QueryParam("batch") String batch, @QueryParam("status") List<String> status,
                           @QueryParam("since") String since, @QueryParam("until") String until,
                           @QueryParam("after_seq") String afterSeq, @Context RoutingContext request) {
        QueryParams params = new QueryParams();
        ExportFilter filter = filter(params, batch, params.oneOf("status", status, LEDGER_STATUSES), since, until);
        long after = params.nonNegative("after_seq", afterSeq, -1);
        params.check();
        requireBatch(filter.batchId());
        return stream(request, filter, start(ExportLog.Log.LEDGER, after), log::ledgerAfter);
    }

    @GET
    @Path("events.jsonl")
    @Operation(operationId = "exportEvents",
            summary = "The events: a line per spent attempt and per hand-back",
            description = "Oldest first, with the same filters as the ledger; status may also be handed_back.")
    @APIResponse(responseCode = "200", description = "the lines, streamed: each a JSON object of this schema",
            content = @Content(mediaType = NDJSON, schema = @Schema(ref = "EventLine")))
    @APIResponse(responseCode = "410", description = "after_seq is before the first line retention kept; the problem "
            + "names the seq to resume from")
    @APIResponse(responseCode = "429", description = "too many exports are streaming (for this token, or from this "
            + "replica): try again later", headers = @Header(name = "Retry-After", description = "seconds to wait",
            schema = @Schema(type = SchemaType.INTEGER)))
    public Response events(@QueryParam("batch") String batch, @QueryParam("status") List<String> status,
                           @QueryParam("since") String since, @QueryParam("until") String until,
                           @QueryParam("after_seq") String afterSeq, @Context RoutingContext request) {
        QueryParams params = new QueryParams();
        ExportFilter filter = filter(params, batch, params.oneOf("status", status, EVENT_STATUSES), since, until);
        long after = params.nonNegative("after_seq", afterSeq, -1);
        params.check();
        requireBatch(filter.batchId());
        return stream(request, filter, start(ExportLog.Log.EVENTS, after), log::eventsAfter);
    }

    private ExportFilter filter(QueryParams params, String batch, Set<String> statuses, String since, String until) {
        UUID batchId = params.uuid("batch", batch);
        Instant from = params.instant("since", since);
        Instant to = params.instant("until", until);
        return new ExportFilter(batchId, statuses, from, to);
    }

    /**
     * Where a read starts: after the seq asked for, or (none asked for) after the lines retention removed. Resuming
     * before those is a 410 that says where the log now starts, never a silent gap.
     */
    private long start(ExportLog.Log which, long afterSeq) {
        long trimmed = log.trimmedThrough(which);
        if (afterSeq < 0) {
            return trimmed;
        }
        if (afterSeq < trimmed) {
            throw ProblemException.of(410, ExportLog.Trimmed.explain(which, afterSeq, trimmed));
        }
        return afterSeq;
    }

    private void requireBatch(UUID batchId) {
        if (batchId != null && !batches.exists(batchId)) {
            throw ProblemException.of(404, "no batch " + batchId);
        }
    }

    /** PostgreSQL renders the lines (LedgerViews.LedgerLine and EventLine are their shapes); pages are copied. */
    private Response stream(RoutingContext request, ExportFilter filter, long afterSeq, Pages pages) {
        int pageSize = config.exportPage();
        ExportSlots.Slot slot = slots.take(caller.name());
        // Given back when the answer has gone or the connection closed, whichever comes first (and if the body is
        // never written at all). The flag is what stops the loop: once a client has hung up, Vert.x drops later
        // writes without an error unless its write queue happened to be full, so a write alone does not tell.
        AtomicBoolean connectionEnded = new AtomicBoolean();
        request.addEndHandler(ended -> {
            connectionEnded.set(true);
            slot.release();
        });
        StreamingOutput body = output -> {
            OutputStream out = new BufferedOutputStream(output, 64 * 1024);
            long after = afterSeq;
            long lines = 0;
            try {
                while (true) {
                    if (connectionEnded.get()) {
                        throw new IOException("the connection closed");
                    }
                    ExportLog.Page page = pages.after(filter, after, pageSize);
                    page.writeTo(out);
                    after = page.lastSeq();
                    lines += page.count();
                    if (page.count() < pageSize) {
                        break;
                    }
                    out.flush();
                }
                out.flush();
            } catch (ExportLog.Trimmed e) {
                // Retention trimmed past this reader between two pages. The answer has begun, so it can only be cut
                // short: the client resumes with after_seq and is then told (410), rather than missing lines.
                LOG.infof("export cut short after %d lines: %s", lines, e.getMessage());
                throw new IOException(e.getMessage(), e);
            } catch (IOException e) {
                // The client went away. Nothing is held between pages, so there is nothing to release; it can
                // resume with after_seq. Not an error of ours, so it ends here rather than in the error log.
                LOG.debugf("export stopped after %d lines at seq %d: %s", lines, after, e.getMessage());
            } finally {
                slot.release();
            }
        };
        return Response.ok(body, NDJSON).build();
    }

    private static Map<String, String> words(String... words) {
        Map<String, String> map = new LinkedHashMap<>();
        for (String w : words) {
            map.put(w, w);
        }
        return map;
    }
}
