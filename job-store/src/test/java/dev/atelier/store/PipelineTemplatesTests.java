package dev.atelier.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** The template grammar on its own (the stored gate and expansion are in {@link PipelineTests}). */
class PipelineTemplatesTests {

    private static final ObjectMapper JSON = new ObjectMapper();

    private static PipelineTemplates.Output answer(String key, String text) throws Exception {
        return new PipelineTemplates.Output(key, JSON.writeValueAsString(Map.of("text", text)), null);
    }

    @Test
    void aSpecNamingOneAnswerThousandsOfTimesGetsTheSameValueEachTime() throws Exception {
        // a large JSON answer and a spec naming it 5,000 times: each reference reads the one parse
        String filler = "x".repeat(200_000);
        PipelineTemplates.Output bio = answer("bio", "<think>hmm</think>{\"name\": \"Raiden\", \"filler\": \"" + filler + "\"}");
        String prompt = "{{jobs.bio.json.name}} ".repeat(5_000);
        String expanded = PipelineTemplates.expand(JSON.writeValueAsString(Map.of("prompt", prompt)), Map.of("bio", bio));
        assertThat(JSON.readTree(expanded).path("prompt").asText()).isEqualTo("Raiden ".repeat(5_000));
    }

    @Test
    void textAndJsonOfTwoUpstreamsAreKeptApart() throws Exception {
        String spec = JSON.writeValueAsString(Map.of("prompt",
                "{{jobs.bio.json.name}} / {{jobs.look.json.name}} / {{jobs.look.text}} / {{jobs.bio.json.name}}"));
        String expanded = PipelineTemplates.expand(spec, Map.of(
                "bio", answer("bio", "{\"name\": \"Raiden\"}"),
                "look", answer("look", "<think>plan</think>{\"name\": \"storm\"}")));
        assertThat(JSON.readTree(expanded).path("prompt").asText())
                .isEqualTo("Raiden / storm / {\"name\": \"storm\"} / Raiden");
    }

    @Test
    void aNonJsonAnswerNamedAsJsonFailsNamingTheTemplate() throws Exception {
        String spec = JSON.writeValueAsString(Map.of("prompt", "{{jobs.bio.text}} then {{jobs.bio.json.name}}"));
        assertThatThrownBy(() -> PipelineTemplates.expand(spec, Map.of("bio", answer("bio", "plain words"))))
                .isInstanceOf(PipelineTemplates.Failure.class)
                .hasMessageContaining("{{jobs.bio.json.name}}")
                .hasMessageContaining("not JSON");
    }

    @Test
    void anArtifactTemplateNeedsAnArtifact() throws Exception {
        UUID image = UUID.randomUUID();
        String spec = JSON.writeValueAsString(Map.of("image", "{{jobs.draw.artifact}}"));
        assertThat(JSON.readTree(PipelineTemplates.expand(spec, Map.of("draw",
                new PipelineTemplates.Output("draw", "{}", image)))).path("image").asText()).isEqualTo(image.toString());
        assertThatThrownBy(() -> PipelineTemplates.expand(spec, Map.of("draw",
                new PipelineTemplates.Output("draw", "{}", null))))
                .hasMessageContaining("stored no artifact");
    }
}
