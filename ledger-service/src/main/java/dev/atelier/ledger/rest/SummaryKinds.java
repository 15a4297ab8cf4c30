package dev.atelier.ledger.rest;

import java.util.List;

/** Every backend kind Atelier knows, so that a kind nobody serves shows as offline or zero rather than missing. */
public final class SummaryKinds {

    public static final List<String> ALL = List.of("ollama", "comfyui");

    private SummaryKinds() {
    }
}
