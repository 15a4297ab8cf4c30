package dev.atelier.cli;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * Standard output and error, always UTF-8 (ticks, crosses and bars whatever the locale), and what the terminal
 * allows: bars and redrawing only on a terminal, colour only there and only without {@code NO_COLOR}.
 */
public final class Console {

    private final PrintWriter out;
    private final PrintWriter err;
    private final boolean terminal;
    private final Style style;
    private final int width;

    Console(PrintWriter out, PrintWriter err, boolean terminal, Style style, int width) {
        this.out = out;
        this.err = err;
        this.terminal = terminal;
        this.style = style;
        this.width = width;
    }

    static Console system(Map<String, String> env) {
        boolean terminal = System.console() != null && !"dumb".equals(env.get("TERM"));
        boolean colour = terminal && env.get("NO_COLOR") == null;
        int width = 80;
        try {
            width = Math.max(40, Integer.parseInt(env.getOrDefault("COLUMNS", "80").trim()));
        } catch (NumberFormatException ignored) {
            // keep the default
        }
        return new Console(writer(FileDescriptor.out), writer(FileDescriptor.err), terminal, new Style(colour),
                terminal ? width : 100_000);
    }

    private static PrintWriter writer(FileDescriptor fd) {
        return new PrintWriter(new OutputStreamWriter(new FileOutputStream(fd), StandardCharsets.UTF_8), true);
    }

    public PrintWriter out() {
        return out;
    }

    public PrintWriter err() {
        return err;
    }

    /** Standard output is a terminal: progress bars redraw in place. */
    public boolean terminal() {
        return terminal;
    }

    public Style style() {
        return style;
    }

    /** Columns a line may use before it wraps (practically unbounded when piped). */
    public int width() {
        return width;
    }

    public void warn(String message) {
        err.println(style.yellow("warning: ") + message);
        err.flush();
    }
}
