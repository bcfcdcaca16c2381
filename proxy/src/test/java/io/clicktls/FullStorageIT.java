package io.clicktls;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.clicktls.admin.ChallTestDns;
import io.clicktls.testing.Curl;
import io.clicktls.testing.Eventually;
import io.clicktls.testing.RunningNode;
import io.clicktls.testing.StandInPlatform;
import java.io.IOException;
import java.math.BigInteger;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole node (internal CA) on a storage volume that is really full or read-only: a 4 MiB tmpfs mounted over the
 * storage folder, filled with a file until the kernel answers ENOSPC, or remounted read-only. Needs the right to
 * mount (root, or CAP_SYS_ADMIN); skipped with a message otherwise.
 */
class FullStorageIT {

    private static final ObjectMapper JSON = new ObjectMapper();
    // the status page checks DNS for the names it shows: never the real DNS
    @RegisterExtension
    static final ChallTestDns.PerClass dns = ChallTestDns.perClass();

    @TempDir
    Path dir;

    private Path data;
    private boolean mounted;
    private StandInPlatform platform;
    private RunningNode node;

    @BeforeEach
    void mountSmallVolume() throws Exception {
        data = Files.createDirectory(dir.resolve("data"));
        String refused = run("mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", data.toString());
        Assumptions.assumeTrue(refused == null, () -> "cannot mount a tmpfs to fill (needs root): " + refused);
        mounted = true;
        platform = StandInPlatform.start();
    }

    @AfterEach
    void stop() throws Exception {
        if (node != null) {
            node.close();
        }
        if (platform != null) {
            platform.close();
        }
        if (mounted) {
            run("umount", "-l", data.toString());
        }
    }

    @Test
    void aNodeStartsOnAFullDiskAndServesTheCertificatesStoredThere() throws Exception {
        start();
        assertThat(click("links.example.test").status()).isEqualTo(200);
        BigInteger stored = serial("links.example.test");
        node.close();

        fill();
        start();

        Curl.Result click = click("links.example.test");
        assertThat(click.exitCode()).as(click.stderr()).isZero();
        assertThat(click.status()).isEqualTo(200);
        assertThat(serial("links.example.test")).isEqualTo(stored);
        HttpResponse<String> health = get("/healthz");
        assertThat(health.statusCode()).isEqualTo(200);
        assertThat(health.body()).startsWith("degraded: storage is full: 0 bytes free");
        assertThat(get("/healthz?strict").statusCode()).isEqualTo(503);
        assertThat(metric(get("/metrics").body(), "clicktls_storage_writable")).isZero();
    }

    @Test
    void aNameIssuedWhileTheDiskIsFullIsServedShownAsNotPersistedAndWrittenOnceSpaceReturns() throws Exception {
        start();
        assertThat(click("links.example.test").status()).isEqualTo(200);
        Path filler = fill();

        Curl.Result click = click("new.example.test");
        assertThat(click.exitCode()).as(click.stderr()).isZero();
        assertThat(click.status()).isEqualTo(200);
        BigInteger issued = serial("new.example.test");
        assertThat(data.resolve("certificates/new.example.test/meta.json")).doesNotExist();
        assertDegraded("new.example.test", "No space left on device");

        Files.delete(filler);
        waitForHealthyAndPersisted("new.example.test");

        node.close();
        start();
        assertThat(click("new.example.test").status()).isEqualTo(200);
        assertThat(serial("new.example.test"))
                .as("the certificate persisted while running, not one issued again")
                .isEqualTo(issued);
    }

    @Test
    void aNodeStartsOnReadOnlyStorageAndKeepsWhatItIssuesThereUntilItIsWritable() throws Exception {
        start();
        assertThat(click("links.example.test").status()).isEqualTo(200);
        BigInteger stored = serial("links.example.test");
        node.close();

        assertThat(run("mount", "-o", "remount,ro", data.toString())).isNull();
        start();
        assertThat(click("links.example.test").status()).isEqualTo(200);
        assertThat(serial("links.example.test")).isEqualTo(stored);
        assertThat(get("/healthz").body()).startsWith("degraded: storage is on a read-only file system");

        assertThat(click("new.example.test").status()).isEqualTo(200);
        BigInteger issued = serial("new.example.test");
        assertDegraded("new.example.test", "Read-only file system");

        assertThat(run("mount", "-o", "remount,rw", data.toString())).isNull();
        waitForHealthyAndPersisted("new.example.test");

        node.close();
        start();
        assertThat(click("new.example.test").status()).isEqualTo(200);
        assertThat(serial("new.example.test")).isEqualTo(issued);
    }

    /** Served, and every operator-facing surface says the certificate is not persisted. */
    private void assertDegraded(String name, String reason) throws Exception {
        HttpResponse<String> health = get("/healthz");
        assertThat(health.statusCode())
                .as("load balancers keep a node that serves")
                .isEqualTo(200);
        assertThat(health.body())
                .startsWith("degraded: storage not writable: ")
                .contains("certificate 3")
                .contains(reason);
        HttpResponse<String> strict = get("/healthz?strict");
        assertThat(strict.statusCode()).as("monitors alert on the code").isEqualTo(503);
        assertThat(strict.body()).isEqualTo(health.body());

        JsonNode list = JSON.readTree(get("/api/domains?q=" + name).body());
        assertThat(list.get("health").asText()).isEqualTo("degraded");
        JsonNode certificate = list.get("domains").get(0).get("certificate");
        assertThat(list.get("domains").get(0).get("name").asText()).isEqualTo(name);
        assertThat(certificate.get("persisted").asBoolean()).isFalse();
        assertThat(certificate.get("not_persisted").asText()).isEqualTo(reason);

        assertThat(get("/status?q=" + name).body())
                .contains("not persisted: " + reason)
                .contains("Degraded:");

        String metrics = get("/metrics").body();
        assertThat(metric(metrics, "clicktls_storage_write_failures_total{kind=\"certificate\"}"))
                .isEqualTo(3);
        assertThat(metric(metrics, "clicktls_storage_pending_writes{kind=\"certificate\"}"))
                .isEqualTo(3);
    }

    private void waitForHealthyAndPersisted(String name) throws Exception {
        Duration took = Eventually.holds(Duration.ofSeconds(15), "the kept writes land", () -> get("/healthz")
                .body()
                .equals("ok\n"));
        System.out.println(
                "writes kept in memory landed " + took.toMillis() + " ms after the storage took writes again");
        assertThat(data.resolve("certificates/" + name + "/meta.json")).exists();
        JsonNode certificate = JSON.readTree(get("/api/domains?q=" + name).body())
                .get("domains")
                .get(0)
                .get("certificate");
        assertThat(certificate.get("persisted").asBoolean()).isTrue();
        assertThat(get("/healthz?strict").statusCode()).isEqualTo(200);
        String metrics = get("/metrics").body();
        assertThat(metric(metrics, "clicktls_storage_writable")).isEqualTo(1);
        assertThat(metric(metrics, "clicktls_storage_pending_writes{kind=\"certificate\"}"))
                .isZero();
        assertThat(metric(metrics, "clicktls_storage_pending_writes{kind=\"rate_limit\"}"))
                .isZero();
    }

    private void start() throws Exception {
        node = RunningNode.start(RunningNode.config(dir)
                .set("tuning.dns_server", dns.server().hostPort())
                .platform("stand-in", platform.port())
                .domains("stand-in", "links.example.test", "new.example.test"));
    }

    /** Writes a file until the volume is full; returns it, to free the space again. */
    private Path fill() throws IOException {
        Path filler = data.resolve("filler");
        ByteBuffer chunk = ByteBuffer.allocate(4096);
        try (FileChannel channel = FileChannel.open(filler, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            while (true) {
                chunk.clear();
                channel.write(chunk);
            }
        } catch (IOException e) {
            assertThat(e.getMessage()).contains("No space left on device");
        }
        return filler;
    }

    private Curl.Result click(String host) throws Exception {
        return node.https(host, "/open.gif");
    }

    private BigInteger serial(String name) {
        return node.server().certificates().cached(name).orElseThrow().leaf().getSerialNumber();
    }

    private HttpResponse<String> get(String path) throws Exception {
        return node.adminGet(path);
    }

    private static double metric(String scrape, String series) {
        Matcher value =
                Pattern.compile("(?m)^" + Pattern.quote(series) + " (\\S+)$").matcher(scrape);
        assertThat(value.find()).as(series + " in\n" + scrape).isTrue();
        return Double.parseDouble(value.group(1));
    }

    /** Runs a command; {@code null} when it succeeded, else what it said. */
    private static String run(String... command) throws IOException, InterruptedException {
        Process process;
        try {
            process = new ProcessBuilder(List.of(command))
                    .redirectErrorStream(true)
                    .start();
        } catch (IOException e) {
            return e.getMessage();
        }
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        return process.waitFor() == 0 ? null : command[0] + " exited " + process.exitValue() + ": " + output.strip();
    }
}
