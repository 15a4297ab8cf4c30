package dev.atelier.cli;

/**
 * A failure the user can act on, shown as one readable message (never a stack trace) with the exit code it maps to:
 * {@link #USAGE} for bad input, bad tokens, unknown ids and unreachable services.
 */
public class CliException extends RuntimeException {

    /** Every job succeeded, or the check found every backend kind online. */
    public static final int OK = 0;
    /** A job failed or was cancelled, or a backend kind has no online backend. */
    public static final int NOT_ALL_WELL = 1;
    /** Usage, input, authentication or connection errors (picocli's own usage errors are 2 as well). */
    public static final int USAGE = 2;

    private final int exitCode;

    public CliException(String message) {
        this(message, USAGE);
    }

    public CliException(String message, int exitCode) {
        super(message);
        this.exitCode = exitCode;
    }

    public CliException(String message, Throwable cause) {
        super(message, cause);
        this.exitCode = USAGE;
    }

    public int exitCode() {
        return exitCode;
    }

    /** The first line of a message, for a one-line warning ({@code null} reads as the empty string). */
    public static String firstLine(String message) {
        return message == null ? "" : message.lines().findFirst().orElse("");
    }
}
