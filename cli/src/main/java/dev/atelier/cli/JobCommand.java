package dev.atelier.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "job", mixinStandardHelpOptions = true,
        description = "One job: what it is, its attempts, why it waits, its error or its result, and its artifacts; "
                + "--artifact saves one.",
        footer = {"", "Examples:", "  atelier job 0190f5b2-8c1e-7a3d-9f10-5b2c4d6e8f02",
                "  atelier job 0190f5b2-8c1e-7a3d-9f10-5b2c4d6e8f02 --artifact 1 -o scorpion.png"})
public class JobCommand extends ApiCommand {

    @Parameters(index = "0", paramLabel = "JOB", description = "A job id (atelier jobs BATCH lists them).")
    String jobId;

    @Option(names = "--artifact", paramLabel = "N",
            description = "Save an output: its number in the list (1, 2, ...), its name or its id.")
    String artifact;

    @Option(names = {"-o", "--output"}, paramLabel = "FILE",
            description = "Where --artifact goes (default: the artifact's name, here); - for standard output.")
    String output;

    @Option(names = "--json", description = "Print the ledger's answer as JSON.")
    boolean json;

    @Override
    public Integer call() {
        JsonNode job = api().get(Api.Service.LEDGER, "/api/v1/jobs/" + Api.segment(jobId));
        if (artifact != null) {
            return save(job);
        }
        if (output != null) {
            throw new CliException("-o goes with --artifact");
        }
        if (json) {
            printJson(job);
        } else {
            print(job);
        }
        return CliException.OK;
    }

    private void print(JsonNode job) {
        Style style = style();
        out().println(style.bold(job.path("key").asText()) + "  " + style.state(job.path("state").asText())
                + "  (job " + job.path("id").asText() + ", batch " + job.path("batch_id").asText() + ")");
        out().println("  " + FinalReport.what(job) + " · " + job.path("type").asText()
                + (job.hasNonNull("model") ? " · model " + job.path("model").asText() : "")
                + " · priority " + job.path("priority").asInt()
                + " · attempts " + job.path("attempts").size() + "/" + job.path("max_attempts").asInt());
        if (job.hasNonNull("waiting_reason")) {
            out().println("  waiting: " + job.path("waiting_reason").asText());
        }
        if (job.hasNonNull("progress")) {
            out().println("  progress: " + Math.round(job.path("progress").asDouble() * 100) + " %");
        }
        if (job.hasNonNull("error")) {
            out().println("  " + style.red("error: ") + job.path("error").asText());
        }
        if (!job.path("attempts").isEmpty()) {
            out().println();
            Table attempts = new Table("#", "EXECUTOR", "STARTED", "ELAPSED", "STATUS", "ERROR");
            for (JsonNode a : job.path("attempts")) {
                attempts.row(a.path("attempt").asInt(), a.path("executor").asText(null), a.path("started_at").asText(null),
                        a.hasNonNull("elapsed_sec") ? Durations.shortly(a.path("elapsed_sec").asDouble()) : null,
                        a.path("status").asText(), a.path("error").asText(null));
            }
            attempts.print(out(), console.width(), "  ");
        }
        JsonNode result = job.path("result");
        if (result.hasNonNull("text")) {
            out().println();
            out().println(style.bold("Result") + (result.hasNonNull("model") ? " (" + result.path("model").asText()
                    + ", " + result.path("eval_count").asLong() + " tokens)" : "") + ":");
            out().println(result.path("text").asText());
        }
        JsonNode artifacts = result.path("artifacts");
        if (!artifacts.isEmpty()) {
            out().println();
            out().println(style.bold("Artifacts") + " (save one: atelier job " + job.path("id").asText()
                    + " --artifact N -o FILE):");
            Table table = new Table("N", "NAME", "TYPE", "SIZE", "SHA256");
            int n = 1;
            for (JsonNode a : artifacts) {
                table.row(n++, a.path("name").asText(), a.path("content_type").asText(), a.path("size").asLong() + " B",
                        a.path("sha256").asText());
            }
            table.print(out(), console.width(), "  ");
        }
        out().flush();
    }

    /** Downloads one artifact and checks its bytes against the sha256 the job lists. */
    private int save(JsonNode job) {
        JsonNode artifacts = job.path("result").path("artifacts");
        JsonNode chosen = null;
        for (int i = 0; i < artifacts.size(); i++) {
            JsonNode a = artifacts.get(i);
            if (artifact.equals(String.valueOf(i + 1)) || artifact.equals(a.path("name").asText())
                    || artifact.equals(a.path("id").asText())) {
                chosen = a;
                break;
            }
        }
        if (chosen == null) {
            throw new CliException("job " + jobId + " has no artifact '" + artifact + "' (it has " + artifacts.size()
                    + "; atelier job " + jobId + " lists them)");
        }
        String target = output != null ? output : Path.of(chosen.path("name").asText("artifact")).getFileName().toString();
        MessageDigest sha256;
        try {
            sha256 = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        String expected = chosen.path("sha256").asText();
        long size;
        String got;
        try (InputStream in = api().stream(Api.Service.LEDGER, "/api/v1/artifacts/" + Api.segment(chosen.path("id").asText()))) {
            if ("-".equals(target)) {
                OutputStream stdout = new DigestOutputStream(System.out, sha256);
                size = in.transferTo(stdout);
                stdout.flush();
                got = checked(sha256, expected);
            } else {
                // bytes land in FILE.part and replace FILE only once their sha256 matches: a broken or wrong
                // download never takes the place of a file the user had
                Path file = Path.of(target).toAbsolutePath();
                Path partial = file.resolveSibling(file.getFileName() + ".part");
                try {
                    try (OutputStream out = new DigestOutputStream(Files.newOutputStream(partial), sha256)) {
                        size = in.transferTo(out);
                    }
                    got = checked(sha256, expected);
                    Files.move(partial, file, StandardCopyOption.REPLACE_EXISTING);
                } finally {
                    Files.deleteIfExists(partial);
                }
            }
        } catch (IOException e) {
            throw new CliException("saving the artifact failed: " + e.getMessage());
        }
        if (!"-".equals(target)) {
            console.err().println("saved " + target + " (" + size + " bytes, sha256 " + got.substring(0, 12) + "… checked)");
            console.err().flush();
        }
        return CliException.OK;
    }

    private static String checked(MessageDigest sha256, String expected) {
        String got = HexFormat.of().formatHex(sha256.digest());
        if (!got.equals(expected)) {
            throw new CliException("the artifact's bytes do not match its sha256 (got " + got + ", expected " + expected
                    + "); nothing was saved, try again");
        }
        return got;
    }
}
