package dev.atelier.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** run --check compares model names as Ollama and the executors do. */
class ModelNameTests {

    @Test
    void spellingsOfOneModelAreTheSameAndOtherTagsAreNot() {
        assertThat(RunCommand.sameModel("llama3.2:latest", "Llama3.2")).isTrue();
        assertThat(RunCommand.sameModel("llama3.2:latest", "library/llama3.2")).isTrue();
        assertThat(RunCommand.sameModel("llama3.2", "registry.ollama.ai/library/llama3.2:latest")).isTrue();
        assertThat(RunCommand.sameModel("llama3.2:latest", "llama3.2:1b")).isFalse();
        assertThat(RunCommand.sameModel("someone/model", "model")).isFalse();
    }
}
