package dev.atelier.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import jakarta.ws.rs.NotAllowedException;
import jakarta.ws.rs.NotSupportedException;
import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.UriInfo;
import java.sql.SQLException;
import java.util.List;
import org.jboss.logging.Logger;
import org.jboss.resteasy.reactive.server.ServerExceptionMapper;

/** Turns every exception that reaches the REST layer into a problem response; none becomes a bare 500. */
public class ProblemMappers {

    private static final Logger LOG = Logger.getLogger(ProblemMappers.class);

    @ServerExceptionMapper
    public Response problem(ProblemException e) {
        Response response = e.problem().toResponse();
        if (e.problem().status() == 429 || e.problem().status() == 503) {
            return Response.fromResponse(response).header("Retry-After", "5").build();
        }
        return response;
    }

    @ServerExceptionMapper
    public Response notAllowed(NotAllowedException e, UriInfo uri) {
        return Problem.of(405, "this method is not allowed on " + path(uri)).toResponse();
    }

    @ServerExceptionMapper
    public Response notSupported(NotSupportedException e) {
        return Problem.of(415, "send the body as application/json").toResponse();
    }

    @ServerExceptionMapper
    public Response web(WebApplicationException e, UriInfo uri) {
        // the JSON body reader wraps what Jackson found wrong in a plain 400
        if (e.getCause() instanceof JsonMappingException mapping) {
            return mapping(mapping);
        }
        if (e.getCause() instanceof JsonProcessingException json) {
            return json(json);
        }
        int status = e.getResponse().getStatus();
        String detail = status == 404 ? "nothing at " + path(uri) : e.getMessage();
        return Problem.of(status, detail).toResponse();
    }

    private static String path(UriInfo uri) {
        return "/" + uri.getPath().replaceFirst("^/", "");
    }

    @ServerExceptionMapper
    public Response unrecognized(UnrecognizedPropertyException e) {
        String field = JsonPaths.of(e.getPath());
        return Problem.invalid("the body has a field Atelier does not know",
                List.of(new Problem.FieldError(field, "unknown field"))).toResponse();
    }

    @ServerExceptionMapper
    public Response mapping(JsonMappingException e) {
        if (e instanceof UnrecognizedPropertyException unknown) {
            return unrecognized(unknown);
        }
        String field = JsonPaths.of(e.getPath());
        if (field.isEmpty()) {
            return Problem.invalid("the body is not the JSON this endpoint expects: " + e.getOriginalMessage(),
                    null).toResponse();
        }
        return Problem.invalid("a field has the wrong type",
                List.of(new Problem.FieldError(field, JsonPaths.describe(e)))).toResponse();
    }

    @ServerExceptionMapper
    public Response json(JsonProcessingException e) {
        if (e instanceof StreamConstraintsException limit) {
            // too many tokens, too deep, a number or a name too long (JsonLimits): what a parser refuses to hold
            // Jackson's words, less the name of its setting: "Token count (1000001) exceeds the maximum allowed (1000000)"
            return Problem.of(413, "the body is beyond what this server reads: "
                    + limit.getOriginalMessage().replaceFirst(", from `[^`]*`", "")).toResponse();
        }
        return Problem.invalid("the body is not valid JSON: " + e.getOriginalMessage(), null).toResponse();
    }

    @ServerExceptionMapper
    public Response unexpected(Throwable e) {
        if (poolExhausted(e)) {
            // every connection of this replica's pool is in use (a burst, slow statements): nothing changed
            LOG.warnf("connection pool exhausted: %s", e.getMessage());
            return problem(new ProblemException(Problem.of(503, "every database connection of this server is busy;"
                    + " try again shortly")));
        }
        if (databaseUnreachable(e)) {
            // a restart or failover of PostgreSQL: nothing changed, and the same request works again shortly
            LOG.warnf("database unreachable: %s", e.getMessage());
            return problem(new ProblemException(Problem.of(503, "the database is unreachable; try again shortly")));
        }
        LOG.error("unexpected error", e);
        return Problem.of(500, "an unexpected error; it was logged").toResponse();
    }

    /**
     * The pool (Agroal) gave up waiting for a connection ({@code quarkus.datasource.jdbc.acquisition-timeout}). Its
     * SQLException carries no SQLSTATE: every connection in use is "Sorry, acquisition timeout!", a new connection
     * too slow to open has a TimeoutException as its cause.
     */
    static boolean poolExhausted(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SQLException sql && sql.getSQLState() == null
                    && (sql.getCause() instanceof java.util.concurrent.TimeoutException
                    || "Sorry, acquisition timeout!".equals(sql.getMessage()))) {
                return true;
            }
        }
        return false;
    }

    /** SQLSTATE class 08 (connection exception) or 57P01-57P03 (the server shutting down or starting up). */
    static boolean databaseUnreachable(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SQLException sql && sql.getSQLState() != null
                    && (sql.getSQLState().startsWith("08") || sql.getSQLState().matches("57P0[123]"))) {
                return true;
            }
        }
        return false;
    }
}
