package dev.atelier.cli;

/** ANSI colour when it is on; the text unchanged when it is off (piped output, {@code NO_COLOR}). */
public record Style(boolean colour) {

    public String green(String text) {
        return paint("32", text);
    }

    public String red(String text) {
        return paint("31", text);
    }

    public String yellow(String text) {
        return paint("33", text);
    }

    public String dim(String text) {
        return paint("2", text);
    }

    public String bold(String text) {
        return paint("1", text);
    }

    /** Colour for a job or batch state word. */
    public String state(String state) {
        return switch (state) {
            case "success", "online" -> green(state);
            case "failed", "offline" -> red(state);
            case "running", "retry", "degraded" -> yellow(state);
            case "cancelled", "pending" -> dim(state);
            default -> state;
        };
    }

    private String paint(String code, String text) {
        return colour && !text.isEmpty() ? "\u001b[" + code + "m" + text + "\u001b[0m" : text;
    }
}
