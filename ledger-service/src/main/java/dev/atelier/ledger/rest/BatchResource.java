package dev.atelier.ledger.rest;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atelier.api.Ids;
import dev.atelier.api.Page;
import dev.atelier.api.ProblemException;
import dev.atelier.api.QueryParams;
import dev.atelier.api.view.BatchResponse;
import dev.atelier.ledger.rest.LedgerViews.BatchItem;
import dev.atelier.ledger.rest.LedgerViews.GroupView;
import dev.atelier.store.BatchViews;
import dev.atelier.store.BatchViews.BatchFilter;
import dev.atelier.store.BatchViews.BatchState;
import dev.atelier.store.BatchViews.BatchSummary;
import dev.atelier.ledger.service.GatewayActions;
import jakarta.inject.Inject;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

@Path("/api/v1/batches")
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = "batches", description = "Batch progress")
public class BatchResource {

    @Inject
    GatewayActions gateway;

    @Inject
    BatchViews views;

    @Inject
    ObjectMapper mapper;

    @GET
    @Operation(operationId = "listBatches",
            summary = "List batches", description = "Newest first, keyset-paged. Filters: state "
            + "(pending, running, success, failed, cancelled; comma-separated for several), label (key:value, "
            + "repeated to require several) and finished_before (an ISO-8601 time: batches that finished before it, "
            + "which is what `atelier prune` deletes) and name (batches whose name contains it, ignoring case).")
    public Page<BatchItem> list(@QueryParam("state") List<String> state, @QueryParam("label") List<String> label,
                                @QueryParam("finished_before") String finishedBefore, @QueryParam("name") String name,
                                @QueryParam("limit") String limit, @QueryParam("after") String after) {
        QueryParams params = new QueryParams();
        var filter = new BatchFilter(
                params.oneOf("state", state, QueryParams.words(BatchState.class, s -> s.name().toLowerCase(Locale.ROOT))),
                params.labels("label", label), params.instant("finished_before", finishedBefore),
                params.text("name", name, 256));
        int size = params.limit(limit);
        UUID cursor = params.uuid("after", after);
        params.check();
        List<BatchItem> items = views.list(filter, cursor, size + 1).stream().map(this::item).toList();
        return Page.of(items, size, item -> item.id().toString());
    }

    @GET
    @Path("{id}")
    @Operation(operationId = "getBatch",
            summary = "Get a batch", description = "Its state, counts per state and per priority group, timings "
            + "and jobs; the gateway answers the same.")
    public BatchResponse get(@PathParam("id") String id) {
        UUID batchId = Ids.parse(id, "batch");
        return views.find(batchId).map(v -> BatchResponse.of(v, mapper))
                .orElseThrow(() -> ProblemException.of(404, "no batch " + batchId));
    }

    private BatchItem item(BatchSummary b) {
        try {
            return new BatchItem(b.id(), b.name(), b.mode().wire(), b.priority(), b.state().name().toLowerCase(Locale.ROOT),
                    mapper.readTree(b.labelsJson()), b.submittedBy(), b.createdAt(),
                    b.statusCounts().values().stream().mapToLong(Long::longValue).sum(),
                    BatchResponse.wireCounts(b.statusCounts()), b.progress(),
                    b.groups().stream().map(g -> new GroupView(g.priority(), BatchResponse.wireCounts(g.statusCounts())))
                            .toList());
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("batch " + b.id() + " has labels that are not JSON", e);
        }
    }

    @POST
    @Path("{id}/cancel")
    @Operation(operationId = "cancelBatch",
            summary = "Cancel a batch, through the gateway", description = "For the dashboard, which the ledger serves: "
            + "forwarded to the gateway's same path with the caller's token; the gateway's answer comes back as it is.")
    @APIResponse(responseCode = "202", description = "the gateway's answer: the batch",
            content = @Content(mediaType = MediaType.APPLICATION_JSON,
                    schema = @Schema(implementation = BatchResponse.class)))
    @APIResponse(responseCode = "502", description = "the gateway could not be reached, or its answer broke off")
    @APIResponse(responseCode = "504",
            description = "the gateway did not answer in time: the action may have been done")
    public Response cancel(@PathParam("id") String id, @HeaderParam(HttpHeaders.AUTHORIZATION) String authorization) {
        return gateway.forward(GatewayActions.Action.CANCEL_BATCH, Ids.parse(id, "batch"), authorization);
    }

    @POST
    @Path("{id}/retry-failed")
    @Operation(operationId = "retryFailedJobs",
            summary = "Retry a batch's failed jobs, through the gateway", description = "For the dashboard, which the ledger serves: "
            + "forwarded to the gateway's same path with the caller's token; the gateway's answer comes back as it is.")
    @APIResponse(responseCode = "202", description = "the gateway's answer: the batch",
            content = @Content(mediaType = MediaType.APPLICATION_JSON,
                    schema = @Schema(implementation = BatchResponse.class)))
    @APIResponse(responseCode = "502", description = "the gateway could not be reached, or its answer broke off")
    @APIResponse(responseCode = "504",
            description = "the gateway did not answer in time: the action may have been done")
    public Response retryFailed(@PathParam("id") String id, @HeaderParam(HttpHeaders.AUTHORIZATION) String authorization) {
        return gateway.forward(GatewayActions.Action.RETRY_FAILED, Ids.parse(id, "batch"), authorization);
    }
}
