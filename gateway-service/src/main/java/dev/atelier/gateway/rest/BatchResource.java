package dev.atelier.gateway.rest;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atelier.api.ProblemException;
import dev.atelier.api.view.BatchResponse;
import dev.atelier.store.BatchViews;
import dev.atelier.store.JobQueue;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.util.UUID;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

@Path("/api/v1/batches")
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = "batches", description = "Batches of jobs: submit, follow, cancel, retry")
public class BatchResource {

    @Inject
    BatchViews views;

    @Inject
    JobQueue queue;

    @Inject
    ObjectMapper mapper;

    @GET
    @Path("{id}")
    @Operation(summary = "Get a batch", description = "Its state, counts per state and per priority group, and its jobs.")
    public BatchResponse get(@PathParam("id") String id) {
        return view(Ids.parse(id, "batch"));
    }

    @POST
    @Path("{id}/cancel")
    @Operation(summary = "Cancel a batch",
            description = "Pending and retry jobs end at once; running ones are cancelled at their backend. Idempotent.")
    public Response cancel(@PathParam("id") String id) {
        UUID batchId = Ids.parse(id, "batch");
        if (!queue.cancelBatch(batchId, null).found()) {
            throw unknown(batchId);
        }
        return Response.accepted(view(batchId)).build();
    }

    @POST
    @Path("{id}/retry-failed")
    @Operation(summary = "Retry a batch's failed jobs", description = "Each goes back to pending with a fresh attempt budget.")
    public Response retryFailed(@PathParam("id") String id) {
        UUID batchId = Ids.parse(id, "batch");
        if (queue.retryFailed(batchId) < 0) {
            throw unknown(batchId);
        }
        return Response.accepted(view(batchId)).build();
    }

    private BatchResponse view(UUID batchId) {
        return views.find(batchId).map(v -> BatchResponse.of(v, mapper)).orElseThrow(() -> unknown(batchId));
    }

    private static ProblemException unknown(UUID id) {
        return ProblemException.of(404, "no batch " + id);
    }
}
