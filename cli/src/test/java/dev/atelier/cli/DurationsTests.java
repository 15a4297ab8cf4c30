package dev.atelier.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class DurationsTests {

    @Test
    void readsDurationsAsPeopleTypeThem() {
        assertThat(Durations.parse("--retry-delay", "10")).isEqualTo(Duration.ofSeconds(10));
        assertThat(Durations.parse("--retry-delay", "10s")).isEqualTo(Duration.ofSeconds(10));
        assertThat(Durations.parse("--interval", "500ms")).isEqualTo(Duration.ofMillis(500));
        assertThat(Durations.parse("--interval", "0.2")).isEqualTo(Duration.ofMillis(200));
        assertThat(Durations.parse("--since", "2m")).isEqualTo(Duration.ofMinutes(2));
        assertThat(Durations.parse("--since", "1h30m")).isEqualTo(Duration.ofMinutes(90));
        assertThat(Durations.parse("--older-than", "30d")).isEqualTo(Duration.ofDays(30));
        assertThat(Durations.parse("--older-than", "P30D")).isEqualTo(Duration.ofDays(30));
        assertThat(Durations.parse("--since", "PT5S")).isEqualTo(Duration.ofSeconds(5));
        assertThatThrownBy(() -> Durations.parse("--retry-delay", "soon"))
                .hasMessage("--retry-delay 'soon' is not a duration: write 10 or 10s, 500ms, 2m, 1h30m, 30d or PT10S");
        assertThatThrownBy(() -> Durations.parse("--retry-delay", "")).isInstanceOf(CliException.class);
    }

    @Test
    void readsTimesAsInstantsOrAsTimeAgo() {
        Instant now = Instant.parse("2026-11-28T12:00:00Z");
        assertThat(Durations.instant("--since", "2026-11-28T10:00:00Z", now)).isEqualTo(Instant.parse("2026-11-28T10:00:00Z"));
        assertThat(Durations.instant("--since", "2h", now)).isEqualTo(Instant.parse("2026-11-28T10:00:00Z"));
        assertThatThrownBy(() -> Durations.instant("--since", "yesterday", now)).hasMessageContaining("neither a time");
    }

    @Test
    void printsClocksAndLengths() {
        assertThat(Durations.clock(42)).isEqualTo("0:42");
        assertThat(Durations.clock(725)).isEqualTo("12:05");
        assertThat(Durations.clock(3723)).isEqualTo("1:02:03");
        assertThat(Durations.shortly(0.85)).isEqualTo("850ms");
        assertThat(Durations.shortly(4.21)).isEqualTo("4.2s");
        assertThat(Durations.shortly(192)).isEqualTo("3m 12s");
        Instant now = Instant.parse("2026-11-28T12:00:00Z");
        assertThat(Durations.ago(now.minusSeconds(3), now)).isEqualTo("3s ago");
        assertThat(Durations.ago(now.minusSeconds(7200), now)).isEqualTo("2h ago");
    }
}
