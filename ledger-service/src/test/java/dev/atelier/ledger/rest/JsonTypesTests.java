package dev.atelier.ledger.rest;

import static org.assertj.core.api.Assertions.assertThat;

import io.quarkus.runtime.annotations.RegisterForReflection;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A native build keeps every JSON shape of the ledger: a new view that is not registered fails here, not in production. */
class JsonTypesTests {

    @Test
    void everyLedgerViewIsRegisteredForReflection() {
        List<Class<?>> registered = List.of(LedgerViews.class.getAnnotation(RegisterForReflection.class).targets());
        assertThat(registered).containsExactlyInAnyOrder(LedgerViews.class.getDeclaredClasses());
    }
}
