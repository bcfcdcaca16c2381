package io.clicktls.admin;

import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.testing.Curl;
import io.clicktls.testing.LocalServers;
import io.clicktls.testing.Pebble;
import io.clicktls.testing.PerClass;
import io.clicktls.testing.RunningNode;
import io.clicktls.testing.StandInPlatform;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The status page as an operator sees it, in headless Chromium: a node issuing from a real ACME CA (Pebble), one
 * name issued, one whose validation the CA failed. Leaves a screenshot at {@code target/status-page.png}.
 */
class StatusPageChromiumIT {

    private static final int HTTPS_PORT = LocalServers.freePort();
    private static final int HTTP_PORT = LocalServers.freePort();

    @RegisterExtension
    static final PerClass<StandInPlatform> platform = PerClass.of(StandInPlatform::start);

    @RegisterExtension
    static final PerClass<Pebble> pebble =
            Pebble.builder().httpPort(HTTP_PORT).tlsPort(HTTPS_PORT).perClass();

    @RegisterExtension
    static final ChallTestDns.PerClass dns = ChallTestDns.perClass();

    @TempDir
    Path dir;

    private RunningNode node;

    @BeforeAll
    static void needsChromium() {
        ExternalTool.CHROMIUM.require();
    }

    @AfterEach
    void stopProxy() {
        if (node != null) {
            node.close();
        }
    }

    @Test
    void pageShowsTheIssuedCertificateAndTheCasOwnWordsForAFailure() throws Exception {
        node = RunningNode.start(RunningNode.config(dir)
                .listeners(HTTPS_PORT, HTTP_PORT)
                .acme(pebble.get().directoryUrl(), pebble.get().trustedCaFile(), "tls-alpn-01")
                .set("certificates.acme.email", "ops@example.com")
                .set("certificates.on_demand.handshake_wait", "15s")
                .set("tuning.dns_server", dns.server().hostPort())
                .platform("sendgrid-eu", platform.get().port())
                .domains("sendgrid-eu", "links.good-shop.test", "links.broken-shop.test", "*.mail.example.test"));
        Path root = dir.resolve("pebble-root.pem");
        Files.writeString(root, pebble.get().rootCertificatePem());
        node.trust(root);
        // The CA looks up links.broken-shop.test and finds an address where nothing listens: validation fails.
        pebble.get().addA("links.broken-shop.test", "127.0.0.2");
        dns.server().addA("links.broken-shop.test", "127.0.0.2");

        Curl.Result good = node.https("links.good-shop.test", "/open.gif");
        Curl.Result broken = node.https("links.broken-shop.test", "/open.gif");
        assertThat(good.status()).as(good.stderr()).isEqualTo(200);
        assertThat(broken.status()).as("no certificate, no TLS session").isZero();

        String url = node.admin("/status").toString();
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
}
