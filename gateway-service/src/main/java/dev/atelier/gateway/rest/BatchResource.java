package dev.atelier.gateway.rest;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atelier.api.Ids;
import dev.atelier.api.ProblemException;
import dev.atelier.api.auth.Caller;
import dev.atelier.api.view.BatchResponse;
import dev.atelier.gateway.service.BatchIntake;
import dev.atelier.store.BatchDeletion;
import dev.atelier.store.BatchViews;
import dev.atelier.store.JobControl;
import dev.atelier.store.entity.BatchEntity;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.UriInfo;
import java.util.UUID;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.enums.SchemaType;
import org.eclipse.microprofile.openapi.annotations.headers.Header;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.ExampleObject;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.parameters.Parameter;
import org.eclipse.microprofile.openapi.annotations.parameters.RequestBody;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

@Path("/api/v1/batches")
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = "batches", description = "Batches of jobs: submit, follow, cancel, retry, delete")
public class BatchResource {

    @Inject
    BatchViews views;

    @Inject
    JobControl control;

    @Inject
    ObjectMapper mapper;

    @Inject
    BatchIntake intake;

    @Inject
    Caller caller;

    @Inject
    BatchDeletion deletion;

    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    @Operation(operationId = "submitBatch",
            summary = "Submit a batch",
            description = "Stores the batch and all its jobs in one transaction, or nothing. Crew jobs expand from their "
                    + "crew's template now. With an Idempotency-Key, a repeat with an equal body answers 200 with the "
                    + "original batch and a different body 409. Every bad field is listed in one 400 problem.")
    @RequestBody(content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(ref = "BatchSubmission"),
            examples = @ExampleObject(name = "mk1 roster",
            value = "{\"name\": \"mk1-roster\", \"mode\": \"priority\", \"priority\": 1, "
                    + "\"jobs\": [{\"key\": \"scorpion\", \"crew\": \"mk1\", \"task\": \"Scorpion\", \"priority\": 1}, "
                    + "{\"key\": \"raiden-bio\", \"type\": \"ollama.generate\", \"priority\": 2, "
                    + "\"model\": \"deepseek-r1:32b\", \"prompt\": \"Write Raiden's bio\"}]}")))
    @APIResponse(responseCode = "201", description = "the stored batch", headers = @Header(name = "Location",
            description = "the batch's URL", schema = @Schema(type = SchemaType.STRING)), content = @Content(
            mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = BatchResponse.class),
            examples = @ExampleObject(name = "example", value = ApiExamples.BATCH)))
    @APIResponse(responseCode = "200", description = "the batch an earlier submit with this Idempotency-Key and an "
            + "equal body stored", content = @Content(
            mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = BatchResponse.class),
            examples = @ExampleObject(name = "example", value = ApiExamples.BATCH)))
    @APIResponse(responseCode = "404",
            description = "a job names a crew that does not exist; `errors` names the fields")
    @APIResponse(responseCode = "409", description = "the Idempotency-Key was used with a different body")
    @APIResponse(responseCode = "429", description = "more jobs are open than the gateway's ceiling (100,000 unless "
            + "configured): submit again later", headers = @Header(name = "Retry-After",
            description = "seconds to wait", schema = @Schema(type = SchemaType.INTEGER)))
    public Response submit(JsonNode body,
                           @Parameter(description = "makes a repeat safe: kept for the token at least 24 hours",
                                   schema = @Schema(type = SchemaType.STRING, minLength = 1, maxLength = 200))
                           @HeaderParam("Idempotency-Key") String idempotencyKey, @Context UriInfo uri) {
        BatchIntake.Accepted accepted = intake.accept(body, caller.name(), idempotencyKey);
        BatchResponse batch = view(accepted.batchId());
        if (!accepted.created()) {
            return Response.ok(batch).build();
        }
        return Response.created(uri.getAbsolutePathBuilder().path(accepted.batchId().toString()).build())
                .entity(batch).build();
    }

    @GET
    @Path("{id}")
    @Operation(operationId = "getBatch",
            summary = "Get a batch", description = "Its state, counts per state and per priority group, and its jobs.")
    @APIResponse(responseCode = "200", description = "the batch",
            content = @Content(
            mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = BatchResponse.class),
            examples = @ExampleObject(name = "example", value = ApiExamples.BATCH)))
    public BatchResponse get(@PathParam("id") String id) {
        return view(Ids.parse(id, "batch"));
    }

    @POST
    @Path("{id}/cancel")
    @Operation(operationId = "cancelBatch",
            summary = "Cancel a batch (its submitter or admin)",
            description = "Pending and retry jobs end at once; running ones are cancelled at their backend. Idempotent.")
    @APIResponse(responseCode = "202", description = "the batch, cancelling",
            content = @Content(
            mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = BatchResponse.class),
            examples = @ExampleObject(name = "example", value = ApiExamples.BATCH)))
    public Response cancel(@PathParam("id") String id) {
        UUID batchId = Ids.parse(id, "batch");
        caller.requireSubmitterOrAdmin(submitter(batchId), "cancel batch " + batchId);
        if (!control.cancelBatch(batchId, null).found()) {
            throw unknown(batchId);
        }
        return Response.accepted(view(batchId)).build();
    }

    @POST
    @Path("{id}/retry-failed")
    @Operation(operationId = "retryFailedJobs",
            summary = "Retry a batch's failed jobs (its submitter or admin)", description = "Each goes back to pending with a fresh attempt budget.")
    @APIResponse(responseCode = "202", description = "the batch, its failed jobs pending again",
            content = @Content(
            mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = BatchResponse.class),
            examples = @ExampleObject(name = "example", value = ApiExamples.BATCH)))
    public Response retryFailed(@PathParam("id") String id) {
        UUID batchId = Ids.parse(id, "batch");
        caller.requireSubmitterOrAdmin(submitter(batchId), "retry batch " + batchId);
        if (control.retryFailed(batchId) < 0) {
            throw unknown(batchId);
        }
        return Response.accepted(view(batchId)).build();
    }

    @DELETE
    @Path("{id}")
    @Operation(operationId = "deleteBatch",
            summary = "Delete a batch whose jobs have all ended (its submitter or admin)",
            description = "Its jobs, attempts, counts and artifacts go, and the stored images no other job uses. Its "
                    + "export lines stay: they are the ledger. Its idempotency key stays used for its 24 hours.")
    @APIResponse(responseCode = "204", description = "deleted")
    @APIResponse(responseCode = "409", description = "some jobs have not ended; the problem names them",
            content = @Content(mediaType = "application/problem+json", examples = @ExampleObject(name = "open jobs",
                    value = "{\"type\": \"about:blank\", \"title\": \"Conflict\", \"status\": 409, \"detail\": "
                            + "\"batch 0193... has 2 job(s) that have not ended (cancel it first, or wait): scorpion, "
                            + "raiden-bio\"}")))
    public Response delete(@PathParam("id") String id) {
        UUID batchId = Ids.parse(id, "batch");
        caller.requireSubmitterOrAdmin(submitter(batchId), "delete batch " + batchId);
        BatchDeletion.Outcome outcome = deletion.delete(batchId);
        if (outcome instanceof BatchDeletion.NotFound) {
            throw unknown(batchId);
        }
        if (outcome instanceof BatchDeletion.StillOpen open) {
            throw ProblemException.of(409, "batch " + batchId + " has " + open.open() + " job(s) that have not ended "
                    + "(cancel it first, or wait): " + String.join(", ", open.keys())
                    + (open.open() > open.keys().size() ? ", ..." : ""));
        }
        return Response.noContent().build();
    }

    /** Who submitted the batch (null when authentication was off); a 404 when there is no such batch. */
    private static String submitter(UUID batchId) {
        return BatchEntity.<BatchEntity>findByIdOptional(batchId).orElseThrow(() -> unknown(batchId)).submittedBy;
    }

    private BatchResponse view(UUID batchId) {
        return views.find(batchId).map(v -> BatchResponse.of(v, mapper)).orElseThrow(() -> unknown(batchId));
    }

    private static ProblemException unknown(UUID id) {
        return ProblemException.of(404, "no batch " + id);
    }
}
