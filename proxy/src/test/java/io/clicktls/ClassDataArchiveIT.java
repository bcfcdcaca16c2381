package io.clicktls;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The class-data sharing archive that {@code mvn package} trains beside the jar ({@link ClassDataTraining}) is the one
 * README's run command uses: valid for that jar and the {@code java} on {@code PATH} (the command's), from any working
 * directory, and holding the classes of a start and of a click over HTTP/2 and HTTP/1.1, not only of a start.
 */
class ClassDataArchiveIT {

    private static final Path TARGET =
            Path.of(System.getenv().getOrDefault("CLICKTLS_REPO_ROOT", ".."), "proxy/target");

    @TempDir
    Path elsewhere;

    @Test
    void theArchiveBesideTheJarIsValidForItAndHoldsTheClassesOfAClick() throws Exception {
        Path jar = TARGET.resolve("clicktls.jar").toAbsolutePath();
        Assumptions.assumeTrue(Files.isRegularFile(jar), "needs the packaged jar (mvn package): " + jar);
        Path archive = TARGET.resolve("clicktls.jsa").toAbsolutePath();
        assertThat(archive).as("mvn package writes the archive beside the jar").isRegularFile();

        Process java = new ProcessBuilder(
                        "java",
                        "-XX:SharedArchiveFile=" + archive,
                        "-XX:+PrintSharedArchiveAndExit",
                        "-jar",
                        jar.toString())
                .directory(elsewhere.toFile())
                .redirectErrorStream(true)
                .start();
        String printed = new String(java.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(java.waitFor(60, TimeUnit.SECONDS)).isTrue();

        assertThat(printed).as("the JVM's check of the archive").contains("archive is valid");
        List<String> archived = printed.lines()
                .filter(line -> line.endsWith(" app_loader"))
                .map(line -> line.substring(line.indexOf(':') + 2, line.length() - " app_loader".length()))
                .toList();
        assertThat(archived)
                .as("classes of the start, of a first handshake for a new name, of an HTTP/2 and an HTTP/1.1 click,"
                        + " of the admin pages and of a reload")
                .contains(
                        "io.clicktls.config.ConfigLoader",
                        "io.clicktls.certificates.InternalIssuer",
                        "io.clicktls.tls.TlsSelectionHandler",
                        "io.netty.handler.codec.http2.Http2FrameCodec",
                        "io.clicktls.http.ProxyHandler",
                        "io.clicktls.http.LocationRewriter",
                        "io.clicktls.http.HtmlLinkRewriter",
                        "io.clicktls.http.PlainHttpAnswers",
                        "io.clicktls.admin.StatusPage");
    }
}
