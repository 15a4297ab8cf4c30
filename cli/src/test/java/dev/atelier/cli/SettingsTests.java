package dev.atelier.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SettingsTests {

    @TempDir
    Path dir;

    @Test
    void optionsWinOverTheEnvironmentWhichWinsOverTheConfigFileWhichWinsOverTheDefaults() throws Exception {
        Path config = dir.resolve("atelier").resolve("config.yaml");
        Files.createDirectories(config.getParent());
        Files.writeString(config, "gateway: http://gpu-box:8080\nledger: http://gpu-box:8081/\ntoken: from-file\n");
        Map<String, String> env = Map.of("XDG_CONFIG_HOME", dir.toString(), "ATELIER_TOKEN", "from-env");

        Settings fromFileAndEnv = Settings.resolve(null, null, null, env);
        assertThat(fromFileAndEnv).isEqualTo(new Settings(URI.create("http://gpu-box:8080"),
                URI.create("http://gpu-box:8081"), "from-env"));
        assertThat(Settings.resolve("http://other:9000", null, "from-option", env).token()).isEqualTo("from-option");
        assertThat(Settings.resolve("http://other:9000", null, null, env).gateway()).isEqualTo(URI.create("http://other:9000"));

        Settings defaults = Settings.resolve(null, null, null, Map.of("ATELIER_CONFIG", dir.resolve("none.yaml").toString()));
        assertThat(defaults).isEqualTo(new Settings(URI.create("http://localhost:8080"), URI.create("http://localhost:8081"), null));
    }

    @Test
    void aBadUrlOrConfigFileIsNamed() throws Exception {
        Path config = dir.resolve("bad.yaml");
        Files.writeString(config, "- just\n- a list\n");
        assertThatThrownBy(() -> Settings.resolve(null, null, null, Map.of("ATELIER_CONFIG", config.toString())))
                .hasMessageContaining("must be a map of gateway, ledger and token");
        assertThatThrownBy(() -> Settings.resolve("localhost:8080", null, null, Map.of("ATELIER_CONFIG", "/nonexistent")))
                .hasMessage("the gateway URL 'localhost:8080' is not an http(s) URL");
    }
}
