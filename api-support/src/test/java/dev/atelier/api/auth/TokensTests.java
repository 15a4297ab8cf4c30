package dev.atelier.api.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class TokensTests {

    private static final String CI_HASH = Tokens.sha256("ci-secret");

    @Test
    void aPresentedTokenIsFoundByItsHash() {
        Tokens tokens = Tokens.parse(List.of("ci:submit:" + CI_HASH, " viewer:READ:" + Tokens.sha256("v").toUpperCase()));

        assertThat(tokens.holderOf("ci-secret")).contains(new Tokens.Holder("ci", Role.SUBMIT));
        assertThat(tokens.holderOf("v")).contains(new Tokens.Holder("viewer", Role.READ));
        assertThat(tokens.holderOf("guess")).isEmpty();
    }

    @Test
    void theHashIsTheSha256OfTheTokenInHex() {
        // printf %s ci-secret | sha256sum
        assertThat(Tokens.sha256("abc")).isEqualTo("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    @Test
    void aBadEntryStopsTheServiceNamingTheEntryButNotTheHash() {
        assertThatThrownBy(() -> Tokens.parse(List.of("ci:submit:" + CI_HASH, "ops:owner:" + CI_HASH, "lead:admin:" + "ab".repeat(32), "x:read:123")))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("entry 2 (ops): the role must be read, submit or admin")
                .hasMessageContaining("entry 4 (x): the hash must be 64 hex digits")
                .hasMessageNotContaining(CI_HASH);
        assertThatThrownBy(() -> Tokens.parse(List.of("just-a-token")))
                .hasMessageContaining("entry 1 must be name:role:hex-sha256");
    }
}
