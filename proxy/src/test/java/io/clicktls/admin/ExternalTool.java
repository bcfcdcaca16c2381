package io.clicktls.admin;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * A program from a Debian package that a test runs ({@code promtool}, {@code prometheus}, {@code chromium}). When
 * it is missing the test is skipped with a loud message, except under {@code CI=true}, where it fails.
 */
record ExternalTool(Path binary, String debianPackage) {

    static final ExternalTool PROMTOOL = new ExternalTool(Path.of("/usr/bin/promtool"), "prometheus");
    static final ExternalTool PROMETHEUS = new ExternalTool(Path.of("/usr/bin/prometheus"), "prometheus");
    static final ExternalTool CHROMIUM = new ExternalTool(Path.of("/usr/bin/chromium"), "chromium");

    /** What a run printed and how it ended. */
    record Run(int exitCode, String stdout, String stderr) {
        String output() {
            return stdout + stderr;
        }
    }

    /** Skips (or, under CI, fails) the calling test unless the binary is there. */
    ExternalTool require() {
        if (Files.isExecutable(binary)) {
            return this;
        }
        String missing = binary + " not installed: apt-get install -y " + debianPackage;
        if ("true".equalsIgnoreCase(System.getenv("CI"))) {
            Assertions.fail("!!! " + missing + " (CI=true: this test must run) !!!");
        }
        System.err.println("!!! " + missing + ": skipping this test !!!");
        Assumptions.abort(missing);
        return this;
    }

    /** Runs the binary with {@code args}, feeding {@code stdin} (may be null), for at most {@code seconds}. */
    Run run(String stdin, int seconds, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(binary.toString());
        command.addAll(List.of(args));
        Path out = Files.createTempFile("tool-out", ".txt");
        Path err = Files.createTempFile("tool-err", ".txt");
        try {
            Process process = new ProcessBuilder(command)
                    .redirectOutput(out.toFile())
                    .redirectError(err.toFile())
                    .start();
            try (var input = process.getOutputStream()) {
                if (stdin != null) {
                    input.write(stdin.getBytes(StandardCharsets.UTF_8));
                }
            }
            if (!process.waitFor(seconds, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
                Assertions.fail(binary + " did not finish within " + seconds + " s: " + Files.readString(err));
            }
            return new Run(process.exitValue(), Files.readString(out), Files.readString(err));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    /** Starts the binary in the background; output goes to {@code log}. The caller kills it. */
    Process start(Path log, String... args) throws IOException {
        List<String> command = new ArrayList<>();
        command.add(binary.toString());
        command.addAll(List.of(args));
        return new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
    }
}
