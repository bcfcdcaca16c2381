package io.clicktls.admin;

import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.ClickTlsServer;
import io.clicktls.config.ConfigLoader;
import io.clicktls.testing.Curl;
import io.clicktls.testing.Pebble;
import io.clicktls.testing.StandInPlatform;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The status page as an operator sees it, in headless Chromium: a node issuing from a real ACME CA (Pebble), one
 * name issued, one whose validation the CA failed. Leaves a screenshot at {@code target/status-page.png}.
 */
class StatusPageChromiumIT {

    private static final int HTTPS_PORT = freePort();
    private static final int HTTP_PORT = freePort();

    private static Pebble pebble;
    private static ChallTestDns dns;
    private static StandInPlatform platform;

    @TempDir
    Path dir;

    private ClickTlsServer server;

    @BeforeAll
    static void startCa() throws Exception {
        ExternalTool.CHROMIUM.require();
        platform = StandInPlatform.start();
        pebble = Pebble.builder().httpPort(HTTP_PORT).tlsPort(HTTPS_PORT).start();
        dns = ChallTestDns.start();
    }

    @AfterAll
    static void stopCa() {
        for (AutoCloseable closeable : new AutoCloseable[] {pebble, dns, platform}) {
            try {
                if (closeable != null) {
                    closeable.close();
                }
            } catch (Exception ignored) {
                // best effort
            }
        }
    }

    @AfterEach
    void stopProxy() {
        if (server != null) {
            server.close();
        }
    }

    @Test
    void pageShowsTheIssuedCertificateAndTheCasOwnWordsForAFailure() throws Exception {
        Path file = dir.resolve("clicktls.yml");
        Files.writeString(
                file,
                """
                listen:
                  https: 127.0.0.1:%d
                  http: 127.0.0.1:%d
                  admin: 127.0.0.1:0
                storage:
                  directory: data
                certificates:
                  issuer: acme
                  acme:
                    directory: %s
                    email: ops@example.com
                    trusted_ca: %s
                    challenges: [tls-alpn-01]
                  on_demand:
                    handshake_wait: 15s
                tuning:
                  dns_server: %s
                platforms:
                  sendgrid-eu:
                    upstream: http://127.0.0.1:%d
                domains:
                  - name: links.good-shop.test
                    platform: sendgrid-eu
                  - name: links.broken-shop.test
                    platform: sendgrid-eu
                  - name: "*.mail.example.test"
                    platform: sendgrid-eu
                """
                        .formatted(
                                HTTPS_PORT,
                                HTTP_PORT,
                                pebble.directoryUrl(),
                                pebble.trustedCaFile(),
                                dns.hostPort(),
                                platform.port()));
        server = ClickTlsServer.start(ConfigLoader.load(file), null);
        Path root = dir.resolve("pebble-root.pem");
        Files.writeString(root, pebble.rootCertificatePem());
        // The CA looks up links.broken-shop.test and finds an address where nothing listens: validation fails.
        pebble.addA("links.broken-shop.test", "127.0.0.2");
        dns.addA("links.broken-shop.test", "127.0.0.2");

        Curl.Result good = Curl.https(root, HTTPS_PORT, "links.good-shop.test", "/open.gif");
        Curl.Result broken = Curl.https(root, HTTPS_PORT, "links.broken-shop.test", "/open.gif");
        assertThat(good.status()).as(good.stderr()).isEqualTo(200);
        assertThat(broken.status()).as("no certificate, no TLS session").isZero();

        String url = "http://127.0.0.1:" + server.adminPort() + "/status";
        String dom = chromium("--dump-dom", url).stdout();

        String goodRow = row(dom, "links.good-shop.test");
        assertThat(goodRow)
                .contains("data-state=\"valid\"")
                .contains("Pebble")
                .contains("sendgrid-eu")
                .containsPattern("\\d{4}-\\d{2}-\\d{2}<span class=\"sub\">\\d{2}:\\d{2} UTC");
        String brokenRow = row(dom, "links.broken-shop.test");
        assertThat(brokenRow)
                .contains("data-state=\"failed\"")
                .contains("Failed to connect to 127.0.0.2")
                .contains("Resolves to 127.0.0.2");
        assertThat(row(dom, "*.mail.example.test")).contains("data-state=\"pattern\"");

        Path screenshot = Path.of("target", "status-page.png").toAbsolutePath();
        Files.deleteIfExists(screenshot);
        chromium("--screenshot=" + screenshot, "--window-size=1280,900", url);
        assertThat(screenshot).exists();
        assertThat(Files.size(screenshot)).isGreaterThan(10_000);
    }

    private ExternalTool.Run chromium(String... args) throws Exception {
        Path profile = Files.createTempDirectory(dir, "chromium");
        String[] command = new String[args.length + 9];
        int i = 0;
        for (String flag : new String[] {
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--user-data-dir=" + profile
        }) {
            command[i++] = flag;
        }
        command[i++] = "--hide-scrollbars";
        System.arraycopy(args, 0, command, i, args.length);
        ExternalTool.Run run = ExternalTool.CHROMIUM.run(null, 60, command);
        assertThat(run.exitCode()).as(run.stderr()).isZero();
        return run;
    }

    /** The {@code <tr>} of one domain in the DOM Chromium rendered. */
    private static String row(String dom, String name) {
        Matcher matcher = Pattern.compile("<tr data-name=\"" + Pattern.quote(name) + "\".*?</tr>", Pattern.DOTALL)
                .matcher(dom);
        assertThat(matcher.find()).as("a row for " + name + " in:\n" + dom).isTrue();
        return matcher.group();
    }

    private static int freePort() {
        try (ServerSocket socket = new ServerSocket()) {
            socket.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
