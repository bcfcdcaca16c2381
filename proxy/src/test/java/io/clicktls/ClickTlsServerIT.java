package io.clicktls;

import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.testing.Curl;
import io.clicktls.testing.Eventually;
import io.clicktls.testing.RunningNode;
import io.clicktls.testing.StandInNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.math.BigInteger;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole node as a new user runs it, on ephemeral ports with the internal CA: the "done when" list,
 * driven by curl.
 */
class ClickTlsServerIT {

    @TempDir
    Path dir;

    @RegisterExtension
    final StandInNode site = StandInNode.startingFrom(platform -> config("links.example.test"));

    private RunningNode.Config config(String... domains) {
        return RunningNode.config(dir)
                .platform("stand-in", site.platform().port())
                .domains("stand-in", domains);
    }

    /** Edits the config file as an editor does, by a rename. */
    private void replaceConfig(String... domains) throws Exception {
        config(domains).replace();
    }

    private Curl.Result https(String host, String target, String... options) throws Exception {
        return site.node().https(host, target, options);
    }

    @Test
    void firstHandshakeMakesTheCertificateAndThePlatformAnswers() throws Exception {
        Curl.Result click = https("links.example.test", "/ls/click?upn=abc%2Fdef&x=1");

        assertThat(click.exitCode()).as(click.stderr()).isZero();
        assertThat(click.status()).isEqualTo(302);
        assertThat(click.header("location")).isEqualTo("https://destination.example/landing?x=1");
        assertThat(site.platform().last().rawUri()).isEqualTo("/ls/click?upn=abc%2Fdef&x=1");
        assertThat(site.platform().last().header("host")).startsWith("links.example.test");
        assertThat(site.node().server().certificates().cached("links.example.test"))
                .isPresent();
    }

    @Test
    void firstHandshakeWhoseClientHelloArrivesInPiecesStillGetsItsCertificateAndAnswer() throws Exception {
        // A large ClientHello (post-quantum key shares) spans TCP segments. TLS connections read with auto-read off,
        // so the handshake only goes on if the TLS selection handler asks for the rest of the ClientHello itself.
        try (var relay = new TricklingRelay(site.node().httpsPort())) {
            Curl.Result click =
                    Curl.https(site.node().internalRoot(), relay.port(), "links.example.test", "/ls/click?pieces");

            assertThat(click.exitCode()).as(click.stderr()).isZero();
            assertThat(click.status()).isEqualTo(302);
            assertThat(relay.pieces()).isEqualTo(3);
        }
        assertThat(site.platform().last().rawUri()).isEqualTo("/ls/click?pieces");
    }

    @Test
    void plainHttpClickGetsPermanentRedirectToTheSameUrlOverHttps() throws Exception {
        https("links.example.test", "/open.gif");

        Curl.Result plain = site.node().http("links.example.test", "/ls/click?upn=a//b%2F");

        assertThat(plain.status()).isEqualTo(308);
        assertThat(plain.header("location"))
                .isEqualTo("https://links.example.test:" + site.node().httpsPort() + "/ls/click?upn=a//b%2F");
    }

    @Test
    void locationBackToTheTrackedDomainArrivesAsHttpsWhileDestinationsAreUntouched() throws Exception {
        Curl.Result back = https("links.example.test", "/back");
        Curl.Result page = https("links.example.test", "/page");

        assertThat(back.header("location"))
                .isEqualTo("https://links.example.test:" + site.node().httpsPort() + "/landing");
        assertThat(page.text())
                .contains("https://links.example.test:" + site.node().httpsPort() + "/ls/click?upn=next")
                .contains("http://destination.example/")
                .doesNotContain("http://links.example.test");
    }

    @Test
    void unknownNameFailsTheHandshakeWithoutAnyCertificate() throws Exception {
        Curl.Result unknown = https("not-ours.test", "/ls/click");

        assertThat(unknown.status()).isZero();
        assertThat(unknown.stderr()).containsIgnoringCase("unrecognized name");
        assertThat(Files.exists(dir.resolve("data/certificates/not-ours.test"))).isFalse();
    }

    @Test
    void addedDomainIsServedWithinTwoSecondsAndABrokenEditKeepsTheLastGoodConfig() throws Exception {
        assertThat(https("click.newshop.test", "/open.gif").status()).isZero();

        replaceConfig("links.example.test", "click.newshop.test");
        long served = Eventually.holds(
                        Duration.ofMillis(2500),
                        "the added domain is served",
                        () -> https("click.newshop.test", "/open.gif").status() == 200)
                .toMillis();
        assertThat(served).as("ms until the new domain is served").isLessThanOrEqualTo(2000);

        RunningNode.Config edited = config("links.example.test", "click.newshop.test");
        edited.replace(edited.render() + "domains: [\n");
        Eventually.holds(Duration.ofSeconds(3), "the broken edit is rejected", () -> site.node()
                .server()
                .metrics()
                .scrape()
                .contains("clicktls_config_reloads_total{result=\"rejected\"} 1.0"));
        assertThat(https("click.newshop.test", "/open.gif").status()).isEqualTo(200);
        assertThat(https("links.example.test", "/open.gif").status()).isEqualTo(200);
        assertThat(site.node().server().metrics().scrape())
                .contains("clicktls_config_reloads_total{result=\"rejected\"} 1.0");
    }

    @Test
    void removedDomainStopsBeingServedEvenWithItsCertificateInMemory() throws Exception {
        replaceConfig("links.example.test", "gone.example.test");
        Eventually.holds(
                Duration.ofMillis(2500),
                "gone.example.test is served",
                () -> https("gone.example.test", "/open.gif").status() == 200);

        replaceConfig("links.example.test");
        Eventually.holds(
                Duration.ofMillis(2500),
                "gone.example.test is no longer served",
                () -> https("gone.example.test", "/open.gif").status() != 200);
        int forwarded = site.platform().requests("/open.gif").size();
        Curl.Result gone = https("gone.example.test", "/open.gif");

        assertThat(gone.status())
                .as("no TLS session for a name no longer configured")
                .isZero();
        assertThat(gone.stderr()).containsIgnoringCase("unrecognized name");
        assertThat(site.platform().requests("/open.gif")).hasSize(forwarded);
    }

    @Test
    void aRemovedDomainKeepsItsStoredCertificateAndGetsItBackWhenAddedAgain() throws Exception {
        replaceConfig("links.example.test", "back.example.test");
        Eventually.holds(
                Duration.ofMillis(2500),
                "back.example.test is served",
                () -> https("back.example.test", "/open.gif").status() == 200);
        BigInteger serial = site.node()
                .server()
                .certificates()
                .cached("back.example.test")
                .orElseThrow()
                .leaf()
                .getSerialNumber();

        replaceConfig("links.example.test");
        Eventually.holds(
                Duration.ofMillis(2500),
                "back.example.test gets no TLS session",
                () -> https("back.example.test", "/open.gif").status() == 0);
        assertThat(dir.resolve("data/certificates/back.example.test/meta.json")).exists();
        assertThat(site.node().server().certificates().cached("back.example.test"))
                .isEmpty();

        replaceConfig("links.example.test", "back.example.test");
        Eventually.holds(
                Duration.ofMillis(2500),
                "back.example.test is served",
                () -> https("back.example.test", "/open.gif").status() == 200);

        assertThat(site.node()
                        .server()
                        .certificates()
                        .cached("back.example.test")
                        .orElseThrow()
                        .leaf()
                        .getSerialNumber())
                .isEqualTo(serial);
        assertThat(site.node().server().metrics().scrape())
                .contains("clicktls_certificates_issued_total{result=\"ok\"} 1.0");
    }

    @Test
    void restartServesTheStoredCertificateInsteadOfIssuingAnother() throws Exception {
        assertThat(https("links.example.test", "/open.gif").status()).isEqualTo(200);
        BigInteger first = site.node()
                .server()
                .certificates()
                .cached("links.example.test")
                .orElseThrow()
                .leaf()
                .getSerialNumber();
        site.node().restart();
        Curl.Result again = https("links.example.test", "/open.gif");

        assertThat(again.status()).isEqualTo(200);
        assertThat(site.node()
                        .server()
                        .certificates()
                        .cached("links.example.test")
                        .orElseThrow()
                        .leaf()
                        .getSerialNumber())
                .isEqualTo(first);
        assertThat(site.node().server().metrics().scrape())
                .contains("clicktls_certificates_issued_total{result=\"ok\"} 0.0");
        X509Certificate root = (X509Certificate) CertificateFactory.getInstance("X.509")
                .generateCertificate(Files.newInputStream(site.node().internalRoot()));
        assertThat(root.getSubjectX500Principal().getName()).contains("clicktls local CA");
    }

    @Test
    void healthAndMetricsAnswerOnTheAdminListener() throws Exception {
        https("links.example.test", "/open.gif");

        Curl.Result health = Curl.http(site.node().adminPort(), "127.0.0.1", "/healthz");
        Curl.Result metrics = Curl.http(site.node().adminPort(), "127.0.0.1", "/metrics");

        assertThat(health.status()).isEqualTo(200);
        assertThat(metrics.text())
                .contains("clicktls_tls_handshakes_total{result=\"ok\"}")
                .contains("clicktls_requests_total{code=\"200\",platform=\"stand-in\"} 1.0")
                .contains("clicktls_certificates 1.0");
    }

    /**
     * Relays one connection to {@code target}, sending the client's first read in three pieces (the 5-byte record
     * header, the next 100 bytes, the rest) with pauses between them; everything else passes as it comes.
     */
    private static final class TricklingRelay implements AutoCloseable {

        private final ServerSocket listener;
        private final int target;
        private volatile int pieces;
        private final Thread thread;

        TricklingRelay(int target) throws IOException {
            this.listener = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
            this.target = target;
            this.thread = new Thread(this::relay, "trickling-relay");
            thread.setDaemon(true);
            thread.start();
        }

        int port() {
            return listener.getLocalPort();
        }

        int pieces() {
            return pieces;
        }

        private void relay() {
            try (Socket client = listener.accept();
                    Socket server = new Socket(InetAddress.getLoopbackAddress(), target)) {
                client.setTcpNoDelay(true);
                server.setTcpNoDelay(true);
                Thread back = new Thread(() -> copy(server, client), "trickling-relay-back");
                back.setDaemon(true);
                back.start();
                InputStream in = client.getInputStream();
                OutputStream out = server.getOutputStream();
                byte[] buffer = new byte[16384];
                int n = in.read(buffer);
                int[] ends = {5, 105, n};
                int from = 0;
                for (int end : ends) {
                    end = Math.min(end, n);
                    if (end > from) {
                        out.write(buffer, from, end - from);
                        out.flush();
                        pieces++;
                        from = end;
                        // the point of the relay: each piece arrives alone, as across a slow network
                        Thread.sleep(150);
                    }
                }
                copy(client, server);
                back.join(5000);
            } catch (IOException | InterruptedException e) {
                // the test's assertions say what went wrong
            }
        }

        private static void copy(Socket from, Socket to) {
            try {
                from.getInputStream().transferTo(to.getOutputStream());
                to.shutdownOutput();
            } catch (IOException e) {
                // one side closed
            }
        }

        @Override
        public void close() throws Exception {
            listener.close();
            thread.join(5000);
        }
    }
}
