package dev.atelier.gateway.rest;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atelier.api.Page;
import dev.atelier.api.ProblemException;
import dev.atelier.gateway.service.CrewService;
import dev.atelier.gateway.service.CrewService.Crew;
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
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

@Path("/api/v1/crews")
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = "crews", description = "Named job templates; {task} in their strings is replaced by a crew job's task")
public class CrewResource {

    @Inject
    CrewService crews;

    @GET
    @Operation(summary = "List crews", description = "Crews in name order, keyset-paged with limit and after.")
    public Page<Crew> list(@QueryParam("limit") String limit, @QueryParam("after") String after) {
        return crews.list(after, Page.limit(limit));
    }

    @GET
    @Path("{name}")
    @Operation(summary = "Get a crew")
    public Crew get(@PathParam("name") String name) {
        return crews.find(name).orElseThrow(() -> unknown(name));
    }

    @PUT
    @Path("{name}")
    @Consumes(MediaType.APPLICATION_JSON)
    @Operation(summary = "Create or replace a crew",
            description = "The body is the template, e.g. {\"type\": \"ollama.generate\", \"model\": \"deepseek-r1:32b\", "
                    + "\"prompt\": \"Write {task}'s bio\"}. Jobs already submitted keep the template they expanded from.")
    public Response put(@PathParam("name") String name, JsonNode template, UriInfo uri) {
        boolean created = crews.put(name, template);
        Crew crew = crews.find(name).orElseThrow();
        return created
                ? Response.created(uri.getAbsolutePath()).entity(crew).build()
                : Response.ok(crew).build();
    }

    @DELETE
    @Path("{name}")
    @Operation(summary = "Delete a crew", description = "Jobs already submitted from it are not affected.")
    public Response delete(@PathParam("name") String name) {
        if (!crews.delete(name)) {
            throw unknown(name);
        }
        return Response.noContent().build();
    }

    private static ProblemException unknown(String name) {
        return ProblemException.of(404, "no crew named '" + name + "'");
    }
}
