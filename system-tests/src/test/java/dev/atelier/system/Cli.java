package dev.atelier.system;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The packaged {@code atelier} command as a user runs it: the launcher script at the repository's root, as a
 * separate process with its own environment (only PATH and HOME come from the test's), standard input from a
 * string, and its output, error and exit code kept for the test to read.
 */
final class Cli {

    static final Path LAUNCHER = Path.of("..", "atelier").toAbsolutePath().normalize();
    private static final AtomicInteger RUNS = new AtomicInteger();

    record Result(int exit, String out, String err) {
        @Override
        public String toString() {
            return "exit " + exit + "\n--- stdout\n" + out + "\n--- stderr\n" + err;
        }
    }

    private final Path work;
    private final Map<String, String> env;

    Cli(Path work, Map<String, String> env) {
        this.work = work;
        this.env = env;
    }

    /** The same command line with some of the environment changed (a null value removes a variable). */
    Cli with(Map<String, String> changes) {
        Map<String, String> changed = new HashMap<>(env);
        changes.forEach((k, v) -> {
            if (v == null) {
                changed.remove(k);
            } else {
                changed.put(k, v);
            }
        });
        return new Cli(work, changed);
    }

    Result run(String... args) throws IOException, InterruptedException {
        return runWithInput(null, args);
    }

    Result runWithInput(String stdin, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(LAUNCHER.toString()));
        command.addAll(List.of(args));
        return finish(builder(command), stdin);
    }

    /** Runs the command in a pseudo-terminal ({@code script} from util-linux), as on a user's screen. */
    Result runInTerminal(String... args) throws IOException, InterruptedException {
        StringBuilder line = new StringBuilder(quote(LAUNCHER.toString()));
        for (String arg : args) {
            line.append(' ').append(quote(arg));
        }
        return finish(builder(List.of("script", "--quiet", "--flush", "--return", "--command", line.toString(),
                "/dev/null")), null);
    }

    /** A long-running command (export --follow), its output and error going to files. */
    record Started(Process process, Path out, Path err) {
    }

    Started start(String... args) throws IOException {
        List<String> command = new ArrayList<>(List.of(LAUNCHER.toString()));
        command.addAll(List.of(args));
        int n = RUNS.incrementAndGet();
        Path out = work.resolve("run-" + n + ".out");
        Path err = work.resolve("run-" + n + ".err");
        return new Started(builder(command).redirectOutput(out.toFile()).redirectError(err.toFile()).start(), out, err);
    }

    private ProcessBuilder builder(List<String> command) {
        ProcessBuilder builder = new ProcessBuilder(command).directory(work.toFile());
        Map<String, String> environment = builder.environment();
        String path = System.getenv("PATH");
        environment.clear();
        environment.put("PATH", Path.of(System.getProperty("java.home"), "bin") + ":" + path);
        environment.put("HOME", System.getProperty("user.home"));
        environment.putAll(env);
        return builder;
    }

    private Result finish(ProcessBuilder builder, String stdin) throws IOException, InterruptedException {
        int n = RUNS.incrementAndGet();
        Path out = work.resolve("run-" + n + ".out");
        Path err = work.resolve("run-" + n + ".err");
        Process process = builder.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        try (OutputStream in = process.getOutputStream()) {
            if (stdin != null) {
                in.write(stdin.getBytes(StandardCharsets.UTF_8));
            }
        }
        if (!process.waitFor(3, TimeUnit.MINUTES)) {
            process.destroyForcibly().waitFor();
            throw new AssertionError("atelier " + builder.command() + " did not end within 3 minutes");
        }
        return new Result(process.exitValue(), Files.readString(out), Files.readString(err));
    }

    private static String quote(String arg) {
        return "'" + arg.replace("'", "'\\''") + "'";
    }
}
