package dev.atelier.gateway.rest;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atelier.api.ApiDocument;
import dev.atelier.api.Page;
import dev.atelier.api.ProblemException;
import dev.atelier.gateway.service.CrewService;
import dev.atelier.gateway.service.CrewService.Crew;
import dev.atelier.api.auth.Caller;
import dev.atelier.api.auth.Role;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.PUT;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.UriInfo;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.extensions.Extension;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.ExampleObject;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.parameters.RequestBody;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

@Path("/api/v1/crews")
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = "crews", description = "Named job templates; {task} in their strings is replaced by a crew job's task")
public class CrewResource {

    @Inject
    CrewService crews;

    @Inject
    Caller caller;

    @GET
    @Operation(operationId = "listCrews",
            summary = "List crews", description = "Crews in name order, keyset-paged with limit and after.")
    @APIResponse(responseCode = "200", description = "a page of crews",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(ref = "CrewPage"),
                    examples = @ExampleObject(name = "example", value = ApiExamples.CREWS)))
    public Page<Crew> list(@QueryParam("limit") String limit, @QueryParam("after") String after) {
        return crews.list(after, Page.limit(limit));
    }

    @GET
    @Path("{name}")
    @Operation(operationId = "getCrew",
            summary = "Get a crew", description = "The crew's template, as stored.")
    @APIResponse(responseCode = "200", description = "the crew",
            content = @Content(mediaType = MediaType.APPLICATION_JSON,
                    schema = @Schema(implementation = Crew.class),
                    examples = @ExampleObject(name = "example", value = ApiExamples.CREW)))
    public Crew get(@PathParam("name") String name) {
        return crews.find(name).orElseThrow(() -> unknown(name));
    }

    @PUT
    @Path("{name}")
    @Consumes(MediaType.APPLICATION_JSON)
    @Operation(operationId = "putCrew", extensions = @Extension(name = ApiDocument.ROLE, value = "admin"),
            summary = "Create or replace a crew (admin)",
            description = "The body is the template, e.g. {\"type\": \"ollama.generate\", \"model\": \"deepseek-r1:32b\", "
                    + "\"prompt\": \"Write {task}'s bio\"}. Jobs already submitted keep the template they expanded from.")
    @RequestBody(content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(ref = "CrewTemplate"),
            examples = @ExampleObject(name = "example", value = ApiExamples.CREW_TEMPLATE)))
    @APIResponse(responseCode = "201", description = "the new crew",
            content = @Content(mediaType = MediaType.APPLICATION_JSON,
                    schema = @Schema(implementation = Crew.class),
                    examples = @ExampleObject(name = "example", value = ApiExamples.CREW)))
    @APIResponse(responseCode = "200", description = "the crew, replaced",
            content = @Content(mediaType = MediaType.APPLICATION_JSON,
                    schema = @Schema(implementation = Crew.class),
                    examples = @ExampleObject(name = "example", value = ApiExamples.CREW)))
    public Response put(@PathParam("name") String name, JsonNode template, UriInfo uri) {
        caller.require(Role.ADMIN, "write crews (every job of the studio expands from them)");
        boolean created = crews.put(name, template);
        Crew crew = crews.find(name).orElseThrow();
        return created
                ? Response.created(uri.getAbsolutePath()).entity(crew).build()
                : Response.ok(crew).build();
    }

    @DELETE
    @Path("{name}")
    @Operation(operationId = "deleteCrew", extensions = @Extension(name = ApiDocument.ROLE, value = "admin"),
            summary = "Delete a crew (admin)", description = "Jobs already submitted from it are not affected.")
    @APIResponse(responseCode = "204", description = "deleted")
    public Response delete(@PathParam("name") String name) {
        caller.require(Role.ADMIN, "delete crews");
        if (!crews.delete(name)) {
            throw unknown(name);
        }
        return Response.noContent().build();
    }

    private static ProblemException unknown(String name) {
        return ProblemException.of(404, "no crew named '" + name + "'");
    }
}
