package dev.atelier.cli;

/**
 * Ctrl-C (or SIGTERM) during a long loop ({@code watch}, {@code export --follow}) interrupts the command's thread,
 * so the loop ends and says where it stopped. Without it the JVM's shutdown would wait for a loop that never ends:
 * Quarkus lets the command finish before it exits.
 */
final class StopOnSignal implements AutoCloseable {

    /** What a loop throws when it was stopped: exit code 130, as shells report Ctrl-C. */
    static final class Stopped extends CliException {
        Stopped() {
            super("stopped", 130);
        }
    }

    private static volatile boolean requested;
    private final Thread hook;

    private StopOnSignal(Thread hook) {
        this.hook = hook;
    }

    static StopOnSignal install() {
        Thread command = Thread.currentThread();
        Thread hook = new Thread(() -> {
            requested = true; // an interrupt alone can be swallowed by a read it breaks
            command.interrupt();
        }, "atelier-stop");
        Runtime.getRuntime().addShutdownHook(hook);
        return new StopOnSignal(hook);
    }

    /** Sleeps, or throws {@link Stopped} when the user stopped the command. */
    static void sleep(long millis) {
        try {
            checkpoint();
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            throw new Stopped(); // the flag stays clear: Quarkus's own shutdown waits on this thread next
        }
        checkpoint();
    }

    /** Throws {@link Stopped} once the user has asked to stop. */
    static void checkpoint() {
        if (requested) {
            Thread.interrupted();
            throw new Stopped();
        }
    }

    @Override
    public void close() {
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            // the JVM is already stopping: the hook has run
        }
    }
}
