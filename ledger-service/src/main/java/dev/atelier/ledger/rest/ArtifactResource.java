package dev.atelier.ledger.rest;

import dev.atelier.api.Ids;
import dev.atelier.api.Page;
import dev.atelier.api.Problem;
import dev.atelier.api.ProblemException;
import dev.atelier.api.QueryParams;
import dev.atelier.ledger.rest.LedgerViews.ArtifactView;
import dev.atelier.ledger.service.Thumbnails;
import dev.atelier.s3.StorageConfig;
import dev.atelier.store.Artifacts;
import dev.atelier.store.Artifacts.ArtifactFile;
import dev.atelier.store.Artifacts.ArtifactInfo;
import dev.atelier.store.BlobStorage;
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
import jakarta.ws.rs.core.StreamingOutput;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.enums.SchemaType;
import org.eclipse.microprofile.openapi.annotations.headers.Header;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.parameters.Parameter;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;
import org.jboss.logging.Logger;

@Path("/api/v1/artifacts")
@Tag(name = "artifacts", description = "Files jobs produced (ComfyUI outputs)")
public class ArtifactResource {

    private static final Logger LOG = Logger.getLogger(ArtifactResource.class);

    /** Served as they are; anything else goes out as a download, so a stored file can never run as a page. */
    private static final Set<String> INLINE_TYPES = Set.of("image/png", "image/jpeg", "image/gif", "image/webp",
            "video/mp4", "video/webm");

    @Inject
    Artifacts artifacts;

    @Inject
    Thumbnails thumbnails;

    @Inject
    StorageConfig storageConfig;

    @GET
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(operationId = "listArtifacts",
            summary = "List artifacts", description = "Newest first, without their bytes. Filters: batch, job, "
            + "label (key:value of the batch, repeated to require several).")
    public Page<ArtifactView> list(@QueryParam("batch") String batch, @QueryParam("job") String job,
                                   @QueryParam("label") List<String> label,
                                   @QueryParam("limit") String limit, @QueryParam("after") String after) {
        QueryParams params = new QueryParams();
        UUID batchId = params.uuid("batch", batch);
        UUID jobId = params.uuid("job", job);
        Map<String, String> labels = params.labels("label", label);
        int size = params.limit(limit);
        UUID cursor = params.uuid("after", after);
        params.check();
        List<ArtifactView> items = artifacts.list(batchId, jobId, labels, cursor, size + 1).stream().map(ArtifactResource::view).toList();
        return Page.of(items, size, item -> item.id().toString());
    }

    @GET
    @Path("{id}")
    @Operation(operationId = "getArtifact",
            summary = "Get an artifact's bytes, or a thumbnail of an image",
            description = "With its content type and ETag \"<sha256>\"; If-None-Match with that tag answers 304. "
                    + "With size (128, 256 or 512), a PNG of an image whose longer side is at most that many pixels "
                    + "(ETag \"<sha256>-<size>\"), made once and kept; 422 when the image cannot be read or is "
                    + "over 50 million pixels. One byte range (Range: bytes=first-last) answers 206. With "
                    + "atelier.artifacts.s3.presign set and the bytes in the object store, a 307 to a short-lived "
                    + "presigned URL.")
    @APIResponse(responseCode = "200", description = "the bytes: an image or a video inline with its own content "
            + "type, anything else as an attachment", content = {
                @Content(mediaType = "image/*", schema = @Schema(type = SchemaType.STRING, format = "binary")),
                @Content(mediaType = "video/*", schema = @Schema(type = SchemaType.STRING, format = "binary")),
                @Content(mediaType = MediaType.APPLICATION_OCTET_STREAM,
                        schema = @Schema(type = SchemaType.STRING, format = "binary"))})
    @APIResponse(responseCode = "206", description = "the one byte range asked for",
            headers = @Header(name = "Content-Range", schema = @Schema(type = SchemaType.STRING)), content = {
                @Content(mediaType = "image/*", schema = @Schema(type = SchemaType.STRING, format = "binary")),
                @Content(mediaType = "video/*", schema = @Schema(type = SchemaType.STRING, format = "binary")),
                @Content(mediaType = MediaType.APPLICATION_OCTET_STREAM,
                        schema = @Schema(type = SchemaType.STRING, format = "binary"))})
    @APIResponse(responseCode = "304", description = "If-None-Match holds the current ETag")
    @APIResponse(responseCode = "307", description = "the bytes are at this presigned URL, for a short while",
            headers = @Header(name = "Location", schema = @Schema(type = SchemaType.STRING)))
    @APIResponse(responseCode = "416", description = "the range asks for bytes past the end")
    @APIResponse(responseCode = "422", description = "a thumbnail was asked of an image that cannot be read, or is "
            + "over 50 million pixels")
    public Response get(@PathParam("id") String id,
                        @Parameter(description = "a thumbnail whose longer side is at most this many pixels",
                                schema = @Schema(type = SchemaType.INTEGER, enumeration = {"128", "256", "512"}))
                        @QueryParam("size") String size,
                        @HeaderParam(HttpHeaders.IF_NONE_MATCH) String ifNoneMatch,
                        @HeaderParam("Range") String rangeHeader) {
        UUID artifactId = Ids.parse(id, "artifact");
        QueryParams params = new QueryParams();
        Integer thumbnailSize = params.oneOfNumbers("size", size, Thumbnails.SIZES);
        params.check();
        if (thumbnailSize != null) {
            return thumbnail(artifactId, thumbnailSize, ifNoneMatch);
        }
        ArtifactFile file = artifacts.find(artifactId)
                .orElseThrow(() -> ProblemException.of(404, "no artifact " + artifactId));
        ArtifactInfo info = file.info();
        EntityTag tag = new EntityTag(info.sha256());
        if (matches(ifNoneMatch, info.sha256())) {
            return Response.notModified(tag).build();
        }
        boolean inline = INLINE_TYPES.contains(info.contentType());
        String type = inline ? info.contentType() : MediaType.APPLICATION_OCTET_STREAM;
        String disposition = (inline ? "inline" : "attachment") + "; filename=\"" + safeName(info.name()) + "\"";
        BlobStorage.Bytes bytes = file.bytes();
        Optional<Duration> presign = storageConfig.s3().presign();
        if (presign.isPresent() && bytes.objectKey().isPresent()) {
            // the object store serves the bytes; the URL is good for a short while and must not be kept
            return Response.temporaryRedirect(artifacts.storage().objectStore().orElseThrow()
                            .presign(bytes.objectKey().get(), type, disposition, presign.get()))
                    .header("Cache-Control", "no-store").build();
        }
        ByteRange range = ByteRange.parse(rangeHeader, bytes.size());
        if (range == ByteRange.UNSATISFIABLE) {
            return Response.status(416).header("Content-Range", "bytes */" + bytes.size())
                    .type("application/problem+json")
                    .entity(Problem.of(416, "the range asks for bytes past the end of the " + bytes.size()
                            + "-byte artifact " + artifactId)).build();
        }
        Response.ResponseBuilder answer = range == null ? Response.ok() : Response.status(206)
                .header("Content-Range", "bytes " + range.first() + "-" + range.last() + "/" + bytes.size());
        long first = range == null ? 0 : range.first();
        long last = range == null ? -1 : range.last();
        InputStream opened = open(artifactId, bytes, first, last); // before the 200: a store that fails is a 503
        StreamingOutput body = out -> {
            try (InputStream in = opened) {
                in.transferTo(out);
            }
        };
        return immutable(answer.entity(body).type(type).tag(tag)
                .header("Content-Length", range == null ? bytes.size() : range.last() - range.first() + 1)
                .header("Accept-Ranges", "bytes")
                .header("Content-Disposition", disposition));
    }

    private static InputStream open(UUID artifactId, BlobStorage.Bytes bytes, long first, long last) {
        try {
            return bytes.open(first, last);
        } catch (FileNotFoundException e) {
            LOG.errorf("the bytes of artifact %s are missing: %s", artifactId, e.getMessage());
            throw ProblemException.of(500, "the bytes of artifact " + artifactId + " are missing: " + e.getMessage());
        } catch (IOException e) {
            throw unavailable(artifactId, e);
        }
    }

    private static ProblemException unavailable(UUID artifactId, IOException e) {
        return ProblemException.of(503, "the bytes of artifact " + artifactId + " cannot be read now: " + e.getMessage());
    }

    private Response thumbnail(UUID artifactId, int size, String ifNoneMatch) {
        ArtifactInfo info = artifacts.info(artifactId)
                .orElseThrow(() -> ProblemException.of(404, "no artifact " + artifactId));
        if (!info.contentType().startsWith("image/")) {
            throw new ProblemException(Problem.invalid("no thumbnail of a file that is not an image",
                    List.of(new Problem.FieldError("size", "artifact " + artifactId + " is " + info.contentType()
                            + "; thumbnails are made of images only"))));
        }
        String tag = info.sha256() + "-" + size;
        if (matches(ifNoneMatch, tag)) {
            return Response.notModified(new EntityTag(tag)).build();
        }
        Artifacts.Thumbnail thumbnail;
        try {
            thumbnail = thumbnails.of(info, size);
        } catch (Thumbnails.CannotThumbnail e) {
            throw ProblemException.of(422, "no thumbnail of artifact " + artifactId + ": " + e.getMessage());
        } catch (java.io.UncheckedIOException e) { // its image could not be read from the object store
            throw unavailable(artifactId, e.getCause());
        }
        return immutable(Response.ok(thumbnail.data()).type(thumbnail.contentType()).tag(new EntityTag(tag))
                .header("Content-Disposition", "inline; filename=\"thumbnail-" + size + ".png\""));
    }

    private static boolean matches(String ifNoneMatch, String tag) {
        return ifNoneMatch != null && (ifNoneMatch.contains("\"" + tag + "\"") || ifNoneMatch.trim().equals("*"));
    }

    private static Response immutable(Response.ResponseBuilder answer) {
        return answer.header("X-Content-Type-Options", "nosniff")
                .header("Content-Security-Policy", "default-src 'none'; sandbox")
                // an id's bytes never change, nor a thumbnail made of them
                .header("Cache-Control", "private, max-age=31536000, immutable")
                .build();
    }

    static ArtifactView view(ArtifactInfo a) {
        return new ArtifactView(a.id(), a.jobId(), a.batchId(), a.jobKey(), a.name(), a.contentType(), a.size(),
                a.sha256(), a.createdAt(), "/api/v1/artifacts/" + a.id());
    }

    /** The file name for a download: the last path segment, printable ASCII only, no quotes. */
    static String safeName(String name) {
        String last = name.substring(Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\')) + 1);
        String safe = last.replaceAll("[^A-Za-z0-9._-]", "_");
        return safe.isEmpty() || safe.chars().allMatch(ch -> ch == '.') ? "artifact" : safe;
    }
}
