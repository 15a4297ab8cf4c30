package dev.atelier.ledger.rest;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atelier.api.Ids;
import dev.atelier.api.Page;
import dev.atelier.api.ProblemException;
import dev.atelier.api.view.JobActions;
import dev.atelier.api.QueryParams;
import dev.atelier.ledger.config.LedgerConfig;
import dev.atelier.ledger.rest.LedgerViews.AttemptView;
import dev.atelier.ledger.rest.LedgerViews.Job;
import dev.atelier.ledger.rest.LedgerViews.JobItem;
import dev.atelier.ledger.rest.LedgerViews.UpstreamView;
import dev.atelier.store.JobState;
import dev.atelier.store.JobViews;
import dev.atelier.store.JobViews.JobDetail;
import dev.atelier.store.JobViews.JobFilter;
import dev.atelier.store.JobViews.JobRow;
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
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

@Path("/api/v1/jobs")
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = "jobs", description = "Jobs, their attempts, results and why they wait")
public class JobResource {

    @Inject
    GatewayActions gateway;

    @Inject
    JobViews views;

    @Inject
    LedgerConfig config;

    @Inject
    ObjectMapper mapper;

    @GET
    @Operation(operationId = "listJobs",
            summary = "List jobs", description = "A batch's jobs in batch order (job priority, then position), or "
            + "all jobs newest first. Filters: batch, state (comma-separated for several). Keyset-paged.")
    public Page<JobItem> list(@QueryParam("batch") String batch, @QueryParam("state") List<String> state,
                              @QueryParam("limit") String limit, @QueryParam("after") String after) {
        QueryParams params = new QueryParams();
        var filter = new JobFilter(params.uuid("batch", batch),
                params.oneOf("state", state, QueryParams.words(JobState.class, JobState::wire)));
        int size = params.limit(limit);
        UUID cursor = params.uuid("after", after);
        params.check();
        List<JobItem> items = views.list(filter, cursor, size + 1, config.waitingRules())
                .orElseThrow(() -> ProblemException.of(404, "no batch " + filter.batchId()))
                .stream().map(JobResource::item).toList();
        return Page.of(items, size, item -> item.id().toString());
    }

    @GET
    @Path("{id}")
    @Operation(operationId = "getJob",
            summary = "Get a job", description = "With its spent attempts, spec, result, progress, and for a "
            + "pending or retry job the reason it is not running.")
    public Job get(@PathParam("id") String id) {
        UUID jobId = Ids.parse(id, "job");
        JobDetail detail = views.find(jobId, config.waitingRules())
                .orElseThrow(() -> ProblemException.of(404, "no job " + jobId));
        JobRow j = detail.job();
        List<AttemptView> attempts = detail.attempts().stream()
                .map(a -> new AttemptView(a.attempt(), a.executorId(), a.startedAt(), a.finishedAt(),
                        elapsed(a.startedAt(), a.finishedAt()), a.status(), a.error()))
                .toList();
        return new Job(j.id(), j.batchId(), j.key(), j.type(), j.model(), j.crew(), j.task(), j.priority(),
                j.state().wire(), json(detail.specJson()), j.waitingReason(), attempts, json(detail.resultJson()),
                j.error(), j.progress(), j.attemptsUsed(), j.maxAttempts(), j.executorId(), j.createdAt(),
                j.startedAt(), j.finishedAt(), elapsed(j.startedAt(), j.finishedAt()), j.runAfter(), after(j),
                j.upstreams().stream().map(u -> new UpstreamView(u.key(), u.id(), u.state().wire())).toList());
    }

    private static JobItem item(JobRow j) {
        return new JobItem(j.id(), j.batchId(), j.key(), j.type(), j.model(), j.crew(), j.task(), j.priority(),
                j.state().wire(), j.attempt(), j.maxAttempts(), j.executorId(), j.createdAt(), j.startedAt(),
                j.finishedAt(), elapsed(j.startedAt(), j.finishedAt()), j.waitingReason(), j.error(), j.progress(),
                j.resultPreview(), after(j));
    }

    private static List<String> after(JobRow j) {
        return j.upstreams().stream().map(JobViews.Upstream::key).toList();
    }

    /** Seconds from start to finish, or to now while it runs; null before it starts. */
    static Double elapsed(Instant startedAt, Instant finishedAt) {
        if (startedAt == null) {
            return null;
        }
        return Duration.between(startedAt, finishedAt != null ? finishedAt : Instant.now()).toMillis() / 1000.0;
    }

    private JsonNode json(String text) {
        if (text == null) {
            return null;
        }
        try {
            return mapper.readTree(text);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("stored JSON does not parse", e);
        }
    }

    @POST
    @Path("{id}/cancel")
    @Operation(operationId = "cancelJob",
            summary = "Cancel a job, through the gateway", description = "For the dashboard, which the ledger serves: "
            + "forwarded to the gateway's same path with the caller's token; the gateway's answer comes back as it is.")
    @APIResponse(responseCode = "202", description = "the gateway's answer",
            content = @Content(mediaType = MediaType.APPLICATION_JSON,
                    schema = @Schema(implementation = JobActions.JobCancelled.class)))
    @APIResponse(responseCode = "502", description = "the gateway could not be reached, or its answer broke off")
    @APIResponse(responseCode = "504",
            description = "the gateway did not answer in time: the action may have been done")
    public Response cancel(@PathParam("id") String id, @HeaderParam(HttpHeaders.AUTHORIZATION) String authorization) {
        return gateway.forward(GatewayActions.Action.CANCEL_JOB, Ids.parse(id, "job"), authorization);
    }

    @POST
    @Path("{id}/retry")
    @Operation(operationId = "retryJob",
            summary = "Retry a job, through the gateway", description = "For the dashboard, which the ledger serves: "
            + "forwarded to the gateway's same path with the caller's token; the gateway's answer comes back as it is.")
    @APIResponse(responseCode = "202", description = "the gateway's answer",
            content = @Content(mediaType = MediaType.APPLICATION_JSON,
                    schema = @Schema(implementation = JobActions.JobRetried.class)))
    @APIResponse(responseCode = "409", description = "the job is neither failed nor cancelled, or an upstream job of "
            + "its pipeline has not succeeded")
    @APIResponse(responseCode = "502", description = "the gateway could not be reached, or its answer broke off")
    @APIResponse(responseCode = "504",
            description = "the gateway did not answer in time: the action may have been done")
    public Response retry(@PathParam("id") String id, @HeaderParam(HttpHeaders.AUTHORIZATION) String authorization) {
        return gateway.forward(GatewayActions.Action.RETRY_JOB, Ids.parse(id, "job"), authorization);
    }
}
