package dev.atelier.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.quarkus.runtime.annotations.RegisterForReflection;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.util.List;

/**
 * An RFC 9457 problem: every error a client gets from Atelier has this shape (API.md, conventions).
 *
 * @param errors one entry per bad field, for validation failures; absent otherwise
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@RegisterForReflection
public record Problem(String type, String title, int status, String detail, List<FieldError> errors) {

    public static final String MEDIA_TYPE = "application/problem+json";
    public static final MediaType MEDIA = MediaType.valueOf(MEDIA_TYPE);

    /** A field that failed validation, named as the client wrote it: {@code jobs[2].model}. */
    @RegisterForReflection
    public record FieldError(String field, String message) {
    }

    public static Problem of(int status, String detail) {
        Response.Status known = Response.Status.fromStatusCode(status);
        return new Problem("about:blank", known == null ? "HTTP " + status : known.getReasonPhrase(), status, detail,
                null);
    }

    /** At most this many field errors are sent back: a body built to fail a million times gets a small answer. */
    public static final int MAX_ERRORS = 100;

    public static Problem invalid(String detail, List<FieldError> errors) {
        int total = errors instanceof FieldErrors counted ? counted.total() : errors == null ? 0 : errors.size();
        if (total > MAX_ERRORS) {
            return new Problem("about:blank", "Bad Request", 400, detail + " (the first " + MAX_ERRORS + " of "
                    + total + " errors are listed; " + (total - MAX_ERRORS) + " more)",
                    List.copyOf(errors.subList(0, MAX_ERRORS)));
        }
        return new Problem("about:blank", "Bad Request", 400, detail, errors);
    }

    /**
     * Field errors as a validator finds them: the first {@link #MAX_ERRORS} are kept, the rest only counted, so
     * checking a body built to fail a million times takes no more memory than checking one that fails once.
     */
    public static final class FieldErrors extends java.util.ArrayList<FieldError> {
        private int dropped;

        @Override
        public boolean add(FieldError error) {
            if (size() < MAX_ERRORS) {
                return super.add(error);
            }
            dropped++;
            return true;
        }

        @Override
        public boolean addAll(java.util.Collection<? extends FieldError> errors) {
            errors.forEach(this::add);
            if (errors instanceof FieldErrors counted) {
                dropped += counted.dropped;
            }
            return !errors.isEmpty();
        }

        /** Every error found, kept or not: compare it before and after a check to see whether the check failed. */
        public int total() {
            return size() + dropped;
        }
    }

    public Response toResponse() {
        return Response.status(status).type(MEDIA).entity(this).build();
    }
}
