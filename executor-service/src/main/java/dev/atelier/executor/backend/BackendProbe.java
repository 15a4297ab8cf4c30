package dev.atelier.executor.backend;

import dev.atelier.store.ExecutorRegistry;
import java.util.List;

/** Looks at one backend for the health check: is it there, is it quick, which models does it have. */
public interface BackendProbe {

    /** The backend kind it looks at. */
    String kind();

    /**
     * One look. Throws {@link CallFailure.Unavailable} when the backend cannot be reached, and any other
     * {@link CallFailure} when it answers wrongly.
     *
     * @return the models it has (null when this kind has no model list)
     */
    List<String> look();

    /** What the last successful look learned worth showing (ComfyUI's free VRAM, say); blank for nothing. */
    default String detail() {
        return "";
    }

    /** The models the last successful look found loaded in memory (Ollama's {@code /api/ps}); empty if unknown. */
    default List<ExecutorRegistry.LoadedModel> loaded() {
        return List.of();
    }
}
