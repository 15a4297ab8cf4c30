package dev.atelier.ledger.rest;

import dev.atelier.api.QueryParams;
import dev.atelier.store.History;
import dev.atelier.store.History.Point;
import io.quarkus.runtime.annotations.RegisterForReflection;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.enums.SchemaType;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.parameters.Parameter;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

/** The dashboard's charts: a point per minute of each series over the last hours (HistorySampler writes them). */
@Path("/api/v1/history")
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = "history", description = "Jobs finished, the queue and slot use, minute by minute")
public class HistoryResource {

    static final int MAX_HOURS = 168;

    /**
     * One time axis, a minute apart, and for each series and label a value per minute (null where no sample was
     * taken: a ledger was down, or the history is younger).
     */
    @RegisterForReflection
    public record HistoryView(List<Instant> minutes, Map<String, Map<String, List<Double>>> series) {
    }

    @Inject
    History history;

    Clock clock = Clock.systemUTC();

    @GET
    @Operation(operationId = "getHistory",
            summary = "History", description = "Minute by minute over the last `hours` (1 to 168, default 6): "
            + "finished (jobs that ended in the minute, by state), waiting and running (jobs by backend kind) and "
            + "utilisation (busy over offered slots, 0 to 1, by live executor).")
    public HistoryView get(@Parameter(schema = @Schema(type = SchemaType.INTEGER, minimum = "1", maximum = "168",
            defaultValue = "6")) @QueryParam("hours") String hours) {
        QueryParams params = new QueryParams();
        int span = params.between("hours", hours, 6, 1, MAX_HOURS);
        params.check();
        Instant last = clock.instant().truncatedTo(ChronoUnit.MINUTES).minus(Duration.ofMinutes(1));
        Instant first = last.minus(Duration.ofHours(span)).plus(Duration.ofMinutes(1));
        int count = (int) Duration.between(first, last).toMinutes() + 1;
        List<Instant> minutes = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            minutes.add(first.plus(Duration.ofMinutes(i)));
        }
        Map<String, Map<String, List<Double>>> series = new TreeMap<>();
        for (History.Series s : History.Series.values()) {
            series.put(s.wire(), new TreeMap<>());
        }
        for (Point p : history.read(first, last)) {
            int index = (int) Duration.between(first, p.at()).toMinutes();
            series.get(p.series().wire()).computeIfAbsent(p.label(), label -> Arrays.asList(new Double[count]))
                    .set(index, p.value());
        }
        return new HistoryView(minutes, series);
    }
}
