package dev.atelier.executor.comfyui;

/**
 * A ComfyUI version ({@code comfyui_version} in {@code /system_stats}) and what it can do (REALITY.md, ComfyUI 1-2).
 * A version that cannot be read is taken as recent: newer builds report it, and guessing old would stop interrupts.
 */
public record ComfyVersion(String text, int[] parts) {

    /** The first release that honours a client's {@code prompt_id}: before it, runs cannot be followed or adopted. */
    static final ComfyVersion CLIENT_PROMPT_IDS = parse("0.3.45");
    /** The first release whose {@code /interrupt} stops only the run it names: before it, it stops anybody's. */
    static final ComfyVersion TARGETED_INTERRUPT = parse("0.3.57");

    static ComfyVersion parse(String text) {
        String[] pieces = text == null ? new String[0] : text.trim().split("[.+-]");
        int[] parts = new int[3];
        for (int i = 0; i < Math.min(3, pieces.length); i++) {
            try {
                parts[i] = Integer.parseInt(pieces[i]);
            } catch (NumberFormatException e) {
                return new ComfyVersion(text, new int[] {Integer.MAX_VALUE, 0, 0});
            }
        }
        return new ComfyVersion(text, pieces.length == 0 ? new int[] {Integer.MAX_VALUE, 0, 0} : parts);
    }

    boolean atLeast(ComfyVersion other) {
        for (int i = 0; i < 3; i++) {
            if (parts[i] != other.parts[i]) {
                return parts[i] > other.parts[i];
            }
        }
        return true;
    }

    /** Whether runs submitted to it keep the id Atelier chose. */
    public boolean honoursPromptIds() {
        return atLeast(CLIENT_PROMPT_IDS);
    }

    /** Whether {@code /interrupt} with a {@code prompt_id} stops that run only. */
    public boolean interruptsOneRun() {
        return atLeast(TARGETED_INTERRUPT);
    }
}
