package dev.atelier.cli;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Ctrl-C (or SIGTERM) during a long loop ({@code watch}, {@code export --follow}) interrupts the command's thread,
 * so the loop ends and says where it stopped. The hook then waits for the command to end ({@link AtelierMain}):
 * the JVM halts as soon as its shutdown hooks return, and Quarkus's own hook does not wait for the command, so
 * without the wait the last words ("stopped after seq 57; run it again") were lost now and then.
 */
final class StopOnSignal implements AutoCloseable {

    /** What a loop throws when it was stopped: exit code 130, as shells report Ctrl-C. */
    static final class Stopped extends CliException {
        Stopped() {
            super("stopped", 130);
        }
    }

    /** Long enough for a loop to notice and report; a command stuck elsewhere must not hold the exit for long. */
    private static final long REPORT_WAIT_SECONDS = 5;
    private static final CountDownLatch ended = new CountDownLatch(1);
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
            try {
                ended.await(REPORT_WAIT_SECONDS, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "atelier-stop");
        Runtime.getRuntime().addShutdownHook(hook);
        return new StopOnSignal(hook);
    }

    /** Called once the command has returned and its output is flushed: a pending stop may let the JVM halt. */
    static void commandEnded() {
        ended.countDown();
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
