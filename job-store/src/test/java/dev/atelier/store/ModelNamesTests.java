package dev.atelier.store;

import static dev.atelier.store.testing.Batches.batch;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** Model names compare as Ollama compares them (REALITY.md, Ollama 5), in Java and in SQL alike. */
class ModelNamesTests extends QueueTestBase {

    private static final Map<String, String> KEYS = Map.ofEntries(
            Map.entry("llama3.2", "llama3.2:latest"),
            Map.entry("Llama3.2", "llama3.2:latest"),
            Map.entry("library/llama3.2", "llama3.2:latest"),
            Map.entry("registry.ollama.ai/library/llama3.2:latest", "llama3.2:latest"),
            Map.entry("REGISTRY.OLLAMA.AI/Library/Llama3.2:Latest", "llama3.2:latest"),
            Map.entry("deepseek-r1:32b", "deepseek-r1:32b"),
            Map.entry("someone/custom-model", "someone/custom-model:latest"),
            Map.entry("hf.co/Unsloth/Qwen3-8B-GGUF:Q4_K_M", "hf.co/unsloth/qwen3-8b-gguf:q4_k_m"),
            Map.entry("myregistry:5000/team/model", "myregistry:5000/team/model:latest"));

    @Test
    void javaAndSqlGiveEveryNameTheSameKey() {
        KEYS.forEach((name, key) -> {
            assertThat(ModelNames.key(name)).as(name).isEqualTo(key);
            assertThat(sqlKey(name)).as("SQL, " + name).isEqualTo(key);
        });
        assertThat(ModelNames.offers(List.of("llama3.2:latest", "qwen3:8b"), "Library/LLAMA3.2")).isTrue();
        assertThat(ModelNames.offers(List.of("llama3.2:latest"), "llama3.2:1b")).isFalse();
    }

    private String sqlKey(String name) {
        try (var c = dataSource.getConnection(); var ps = c.prepareStatement("select ollama_model_key(?)")) {
            ps.setString(1, name);
            try (var rs = ps.executeQuery()) {
                rs.next();
                return rs.getString(1);
            }
        } catch (java.sql.SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void aJobIsClaimedByAnExecutorOfferingItsModelUnderAnySpelling() {
        NewBatch b = batch(BatchMode.PARALLEL).jobs(1, 1, "ollama.generate", "Llama3.2")
                .jobs(1, 1, "ollama.generate", "library/llama3.2")
                .jobs(1, 1, "ollama.generate", "registry.ollama.ai/library/llama3.2:latest")
                .jobs(1, 1, "ollama.generate", "llama3.2:1b").build();
        intake.insertBatch(b);

        List<ClaimedJob> claimed = claims.claim(EXECUTOR, Map.of("ollama", 4), List.of("llama3.2:latest"), LEASE, null);

        assertThat(claimed).extracting(ClaimedJob::model)
                .containsExactlyInAnyOrder("Llama3.2", "library/llama3.2", "registry.ollama.ai/library/llama3.2:latest");
    }

    @Test
    void theModelSweepFindsAModelOfferedUnderAnotherSpelling() {
        Instant t0 = Instant.now();
        NewBatch b = batch(BatchMode.PARALLEL).jobs(1, 1, "ollama.generate", "Library/LLAMA3.2").build();
        intake.insertBatch(b);
        new ExecutorRegistry(dataSource).report("executor-a", Map.of("ollama", 1), Map.of(),
                List.of(new ExecutorRegistry.BackendReport("ollama", "http://ollama", "online", List.of("llama3.2:latest"),
                        t0, "")), t0.plusSeconds(3600));
        UUID job = b.jobs().get(0).id();

        assertThat(sweeps.sweepUnservableModels(Duration.ofSeconds(60), Duration.ofSeconds(60), t0.plusSeconds(3600)))
                .isEmpty();
        assertThat(inspect.job(job).state()).isEqualTo("pending");
        assertThat(inspect.job(job).waitingReason()).isNull();
    }
}
