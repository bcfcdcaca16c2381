package io.clicktls.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckCommandTest {

    @TempDir
    Path dir;

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    @Test
    void validFileExitsZeroAndCountsDomainsAndPlatforms() throws Exception {
        Path file = write(
                """
                platforms:
                  sg: { preset: sendgrid }
                domains:
                  - { name: links.example.com, platform: sg }
                  - { name: "*.shop.example.com", platform: sg }
                """);

        int exit = run(file);

        assertThat(exit).isZero();
        assertThat(text(out)).isEqualTo(file + ": ok (2 domains, 1 platform)" + System.lineSeparator());
        assertThat(text(err)).isEmpty();
    }

    @Test
    void invalidFileExitsTwoWithOneLinePerProblem() throws Exception {
        Path file = write(
                """
                listen:
                  https: 0.0.0.0:70000
                platforms:
                  sg: { preset: sendgird }
                domains:
                  - { name: links.example.com, platform: sg }
                """);

        int exit = run(file);

        assertThat(exit).isEqualTo(2);
        assertThat(text(out)).isEmpty();
        assertThat(text(err).lines())
                .containsExactly(
                        file + ":2:10: listen.https: port 70000 (expected: 1-65535 or 0)",
                        file
                                + ":4:17: platforms.sg.preset: 'sendgird' (expected: one of sendgrid, sendgrid-eu, mailgun, "
                                + "mailgun-eu, sparkpost, sparkpost-eu, amazon-ses, customerio, customerio-eu, iterable, "
                                + "iterable-eu)");
    }

    @Test
    void tenThousandProblemsArePrintedAsTheFirstHundredAndACount() throws Exception {
        StringBuilder yaml = new StringBuilder("platforms:\n  sg: { preset: sendgrid }\ndomains:\n");
        for (int i = 0; i < 10_000; i++) {
            yaml.append("  - { name: 'bad..").append(i).append(".example.com', platform: sg }\n");
        }
        Path file = write(yaml.toString());

        int exit = run(file);

        assertThat(exit).isEqualTo(2);
        List<String> lines = text(err).lines().toList();
        assertThat(lines).hasSize(101);
        assertThat(lines.get(0)).startsWith(file + ":4:13: domains[0].name: 'bad..0.example.com'");
        assertThat(lines.get(99)).startsWith(file + ":103:13: domains[99].name:");
        assertThat(lines.get(100)).isEqualTo("and 9900 more problems");
    }

    @Test
    void missingFileExitsTwo() {
        Path file = dir.resolve("absent.yml");

        assertThat(run(file)).isEqualTo(2);
        assertThat(text(err).lines()).containsExactly(file + ":1:1: cannot read the file: it does not exist");
    }

    @Test
    void shippedConfigPasses() {
        Path shipped = Path.of("..", "config", "clicktls.yml");

        assertThat(run(shipped)).as(text(err)).isZero();
        assertThat(text(out)).startsWith(shipped + ": ok (2 domains, 1 platform)");
    }

    private int run(Path file) {
        return CheckCommand.run(
                file,
                new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    private Path write(String yaml) throws Exception {
        Path file = dir.resolve("clicktls.yml");
        Files.writeString(file, yaml);
        return file;
    }

    private static String text(ByteArrayOutputStream stream) {
        return stream.toString(StandardCharsets.UTF_8);
    }
}
