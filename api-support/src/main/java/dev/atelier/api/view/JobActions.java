package dev.atelier.api.view;

import io.quarkus.runtime.annotations.RegisterForReflection;
import java.util.UUID;
import org.eclipse.microprofile.openapi.annotations.media.Schema;

/** What POST /api/v1/jobs/{id}/cancel and /retry answer, at the gateway and (forwarded) at the ledger. */
public final class JobActions {

    private JobActions() {
    }

    @RegisterForReflection
    public record JobCancelled(UUID id,
                               @Schema(description = "the job was waiting, and ended at once") boolean cancelled,
                               @Schema(description = "the job is running: its executor cancels it at the backend, "
                                       + "unless it finishes first") boolean cancelRequested) {
    }

    @RegisterForReflection
    public record JobRetried(UUID id, @Schema(enumeration = "pending") String state) {

        public static JobRetried of(UUID id) {
            return new JobRetried(id, "pending");
        }
    }
}
