package dev.atelier.api.view;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atelier.store.BatchViews.BatchView;
import dev.atelier.store.JobState;
import io.quarkus.runtime.annotations.RegisterForReflection;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import org.eclipse.microprofile.openapi.annotations.media.Schema;

/** GET /api/v1/batches/{id}, as the gateway and the ledger both answer it (API.md). */
@RegisterForReflection
public record BatchResponse(UUID id, String name, String mode, int priority, String state, JsonNode labels,
                            @Schema(nullable = true, description = "the token's name; null when authentication was off")
                            String submittedBy, Instant createdAt,
                            @Schema(nullable = true) Instant startedAt, @Schema(nullable = true) Instant finishedAt,
                            double elapsedSec, Map<String, Long> statusCounts, double progress,
                            List<GroupResponse> groups, List<JobSummaryResponse> jobs, List<List<String>> chains) {

    @RegisterForReflection
    public record GroupResponse(int priority, Map<String, Long> statusCounts) {
    }

    @RegisterForReflection
    public record JobSummaryResponse(UUID id, String key, int priority, String state, List<String> after) {
    }

    public static BatchResponse of(BatchView view, ObjectMapper mapper) {
        JsonNode labels;
        try {
            labels = mapper.readTree(view.labelsJson());
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("batch " + view.id() + " has labels that are not JSON", e);
        }
        return new BatchResponse(view.id(), view.name(), view.mode().wire(), view.priority(),
                view.state().name().toLowerCase(Locale.ROOT), labels, view.submittedBy(), view.createdAt(),
                view.startedAt(), view.finishedAt(), view.elapsedSec(), wireCounts(view.statusCounts()), view.progress(),
                view.groups().stream().map(g -> new GroupResponse(g.priority(), wireCounts(g.statusCounts()))).toList(),
                view.jobs().stream().map(j -> new JobSummaryResponse(j.id(), j.key(), j.priority(), j.state().wire(),
                        j.after())).toList(), view.chains());
    }

    /** Counts per state with the wire names, every state present, in state order. */
    public static Map<String, Long> wireCounts(Map<JobState, Long> counts) {
        Map<String, Long> wire = new LinkedHashMap<>();
        for (JobState state : JobState.values()) {
            wire.put(state.wire(), counts.getOrDefault(state, 0L));
        }
        return wire;
    }
}
