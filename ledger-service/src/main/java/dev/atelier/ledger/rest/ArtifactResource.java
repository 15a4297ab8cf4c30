package dev.atelier.ledger.rest;

import dev.atelier.api.Ids;
import dev.atelier.api.Page;
import dev.atelier.api.ProblemException;
import dev.atelier.api.QueryParams;
import dev.atelier.ledger.rest.LedgerViews.ArtifactView;
import dev.atelier.store.Artifacts;
import dev.atelier.store.Artifacts.ArtifactFile;
import dev.atelier.store.Artifacts.ArtifactInfo;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.EntityTag;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

@Path("/api/v1/artifacts")
@Tag(name = "artifacts", description = "Files jobs produced (ComfyUI outputs)")
public class ArtifactResource {

    /** Served as they are; anything else goes out as a download, so a stored file can never run as a page. */
    private static final Set<String> INLINE_TYPES = Set.of("image/png", "image/jpeg", "image/gif", "image/webp",
            "video/mp4", "video/webm");

    @Inject
    Artifacts artifacts;

    @GET
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(summary = "List artifacts", description = "Newest first, without their bytes. Filters: batch, job.")
    public Page<ArtifactView> list(@QueryParam("batch") String batch, @QueryParam("job") String job,
                                   @QueryParam("limit") String limit, @QueryParam("after") String after) {
        QueryParams params = new QueryParams();
        UUID batchId = params.uuid("batch", batch);
        UUID jobId = params.uuid("job", job);
        int size = params.limit(limit);
        UUID cursor = params.uuid("after", after);
        params.check();
        List<ArtifactView> items = artifacts.list(batchId, jobId, cursor, size + 1).stream().map(ArtifactResource::view).toList();
        return Page.of(items, size, item -> item.id().toString());
    }

    @GET
    @Path("{id}")
    @Operation(summary = "Get an artifact's bytes", description = "With its content type and ETag \"<sha256>\"; "
            + "If-None-Match with that tag answers 304.")
    public Response get(@PathParam("id") String id, @HeaderParam(HttpHeaders.IF_NONE_MATCH) String ifNoneMatch) {
        UUID artifactId = Ids.parse(id, "artifact");
        ArtifactFile file = artifacts.find(artifactId)
                .orElseThrow(() -> ProblemException.of(404, "no artifact " + artifactId));
        ArtifactInfo info = file.info();
        EntityTag tag = new EntityTag(info.sha256());
        if (ifNoneMatch != null && (ifNoneMatch.contains("\"" + info.sha256() + "\"") || ifNoneMatch.trim().equals("*"))) {
            return Response.notModified(tag).build();
        }
        boolean inline = INLINE_TYPES.contains(info.contentType());
        return Response.ok(file.data())
                .type(inline ? info.contentType() : MediaType.APPLICATION_OCTET_STREAM)
                .tag(tag)
                .header("Content-Disposition", (inline ? "inline" : "attachment") + "; filename=\"" + safeName(info.name()) + "\"")
                .header("X-Content-Type-Options", "nosniff")
                .header("Content-Security-Policy", "default-src 'none'; sandbox")
                // an id's bytes never change
                .header("Cache-Control", "private, max-age=31536000, immutable")
                .build();
    }

    static ArtifactView view(ArtifactInfo a) {
        return new ArtifactView(a.id(), a.jobId(), a.batchId(), a.name(), a.contentType(), a.size(), a.sha256(),
                a.createdAt(), "/api/v1/artifacts/" + a.id());
    }

    /** The file name for a download: the last path segment, printable ASCII only, no quotes. */
    static String safeName(String name) {
        String last = name.substring(Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\')) + 1);
        String safe = last.replaceAll("[^A-Za-z0-9._-]", "_");
        return safe.isEmpty() || safe.chars().allMatch(ch -> ch == '.') ? "artifact" : safe;
    }
}
