package dev.atelier.gateway.rest;

import dev.atelier.api.Ids;
import dev.atelier.api.ProblemException;
import dev.atelier.api.auth.Caller;
import dev.atelier.api.view.JobActions;
import dev.atelier.store.JobControl;
import dev.atelier.store.entity.BatchEntity;
import dev.atelier.store.entity.JobEntity;
import jakarta.inject.Inject;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.util.UUID;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.ExampleObject;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

@Path("/api/v1/jobs")
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = "jobs", description = "One job: cancel or retry")
public class JobResource {

    @Inject
    JobControl control;

    @Inject
    Caller caller;

    @POST
    @Path("{id}/cancel")
    @Operation(operationId = "cancelJob",
            summary = "Cancel a job (its submitter or admin)",
            description = "A waiting job ends at once; a running one is cancelled at its backend, unless it finishes first. Idempotent.")
    @APIResponse(responseCode = "202", description = "what the cancel did",
            content = @Content(mediaType = MediaType.APPLICATION_JSON,
                    schema = @Schema(implementation = JobActions.JobCancelled.class),
                    examples = @ExampleObject(name = "example", value = ApiExamples.JOB_CANCELLED)))
    public Response cancel(@PathParam("id") String id) {
        UUID jobId = Ids.parse(id, "job");
        caller.requireSubmitterOrAdmin(submitter(jobId), "cancel job " + jobId);
        JobControl.Cancel cancel = control.cancelJob(jobId, null);
        if (!cancel.found()) {
            throw unknown(jobId);
        }
        return Response.accepted(new JobActions.JobCancelled(jobId, cancel.cancelled() > 0,
                cancel.cancelRequested() > 0)).build();
    }

    @POST
    @Path("{id}/retry")
    @Operation(operationId = "retryJob",
            summary = "Retry a job (its submitter or admin)",
            description = "A failed or cancelled job goes back to pending with a fresh attempt budget; its history is kept. Otherwise 409.")
    @APIResponse(responseCode = "202", description = "the job, pending again",
            content = @Content(mediaType = MediaType.APPLICATION_JSON,
                    schema = @Schema(implementation = JobActions.JobRetried.class),
                    examples = @ExampleObject(name = "example", value = ApiExamples.JOB_RETRIED)))
    @APIResponse(responseCode = "409", description = "the job is neither failed nor cancelled, or an upstream job of "
            + "its pipeline has not succeeded (retry that one)")
    public Response retry(@PathParam("id") String id) {
        UUID jobId = Ids.parse(id, "job");
        caller.requireSubmitterOrAdmin(submitter(jobId), "retry job " + jobId);
        return switch (control.retryJob(jobId)) {
            case RETRIED -> Response.accepted(JobActions.JobRetried.of(jobId)).build();
            case NOT_FOUND -> throw unknown(jobId);
            case NOT_RETRYABLE -> throw ProblemException.of(409,
                    "job " + jobId + " is neither failed nor cancelled; only those can be retried");
            case UPSTREAM_UNSUCCESSFUL -> throw ProblemException.of(409, "job " + jobId + " waits for upstream job "
                    + String.join(", ", control.unsuccessfulUpstreams(jobId))
                    + "; retry that one, which re-opens this job");
        };
    }

    /** Who submitted the job's batch (null when authentication was off); a 404 when there is no such job. */
    private static String submitter(UUID jobId) {
        JobEntity job = JobEntity.<JobEntity>findByIdOptional(jobId).orElseThrow(() -> unknown(jobId));
        return BatchEntity.<BatchEntity>findByIdOptional(job.batchId).map(batch -> batch.submittedBy).orElse(null);
    }

    private static ProblemException unknown(UUID id) {
        return ProblemException.of(404, "no job " + id);
    }
}
