package io.clicktls;

import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.config.ConfigLoader;
import io.clicktls.testing.Curl;
import io.clicktls.testing.StandInPlatform;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.math.BigInteger;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.concurrent.Callable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole node as a new user runs it, on ephemeral ports with the internal CA: the "done when" list,
 * driven by curl.
 */
class ClickTlsServerIT {

    @TempDir
    Path dir;

    private StandInPlatform platform;
    private ClickTlsServer server;
    private Path configFile;

    @BeforeEach
    void start() throws Exception {
        platform = StandInPlatform.start();
        configFile = dir.resolve("clicktls.yml");
        Files.writeString(configFile, config("links.example.test"));
        server = ClickTlsServer.start(ConfigLoader.load(configFile), null);
    }

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
        platform.close();
    }

    private String config(String... domains) {
        StringBuilder yaml = new StringBuilder(
                """
                listen:
                  https: 127.0.0.1:0
                  http: 127.0.0.1:0
                  admin: 127.0.0.1:0
                storage:
                  directory: data
                platforms:
                  stand-in:
                    upstream: http://127.0.0.1:%d
                domains:
                """
                        .formatted(platform.port()));
        for (String domain : domains) {
            yaml.append("  - name: \"").append(domain).append("\"\n    platform: stand-in\n");
        }
        return yaml.toString();
    }

    private Path root() {
        return dir.resolve("data/ca/root.pem");
    }

    private Curl.Result https(String host, String target, String... options) throws Exception {
        return Curl.https(root(), server.httpsPort(), host, target, options);
    }

    @Test
    void firstHandshakeMakesTheCertificateAndThePlatformAnswers() throws Exception {
        Curl.Result click = https("links.example.test", "/ls/click?upn=abc%2Fdef&x=1");

        assertThat(click.exitCode()).as(click.stderr()).isZero();
        assertThat(click.status()).isEqualTo(302);
        assertThat(click.header("location")).isEqualTo("https://destination.example/landing?x=1");
        assertThat(platform.last().rawUri()).isEqualTo("/ls/click?upn=abc%2Fdef&x=1");
        assertThat(platform.last().header("host")).startsWith("links.example.test");
        assertThat(server.certificates().cached("links.example.test")).isPresent();
    }

    @Test
    void firstHandshakeWhoseClientHelloArrivesInPiecesStillGetsItsCertificateAndAnswer() throws Exception {
        // A large ClientHello (post-quantum key shares) spans TCP segments. TLS connections read with auto-read off,
        // so the handshake only goes on if the TLS selection handler asks for the rest of the ClientHello itself.
        try (var relay = new TricklingRelay(server.httpsPort())) {
            Curl.Result click = Curl.https(root(), relay.port(), "links.example.test", "/ls/click?pieces");

            assertThat(click.exitCode()).as(click.stderr()).isZero();
            assertThat(click.status()).isEqualTo(302);
            assertThat(relay.pieces()).isEqualTo(3);
        }
        assertThat(platform.last().rawUri()).isEqualTo("/ls/click?pieces");
    }

    @Test
    void plainHttpClickGetsPermanentRedirectToTheSameUrlOverHttps() throws Exception {
        https("links.example.test", "/open.gif");

        Curl.Result plain = Curl.http(server.httpPort(), "links.example.test", "/ls/click?upn=a//b%2F");

        assertThat(plain.status()).isEqualTo(308);
        assertThat(plain.header("location"))
                .isEqualTo("https://links.example.test:" + server.httpsPort() + "/ls/click?upn=a//b%2F");
    }

    @Test
    void locationBackToTheTrackedDomainArrivesAsHttpsWhileDestinationsAreUntouched() throws Exception {
        Curl.Result back = https("links.example.test", "/back");
        Curl.Result page = https("links.example.test", "/page");

        assertThat(back.header("location")).isEqualTo("https://links.example.test:" + server.httpsPort() + "/landing");
        assertThat(page.text())
                .contains("https://links.example.test:" + server.httpsPort() + "/ls/click?upn=next")
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

        replace(configFile, config("links.example.test", "click.newshop.test"));
        long served = waitUntil(
                Duration.ofSeconds(2),
                () -> https("click.newshop.test", "/open.gif").status() == 200);
        assertThat(served).as("ms until the new domain is served").isLessThanOrEqualTo(2000);

        replace(configFile, config("links.example.test", "click.newshop.test") + "domains: [\n");
        Thread.sleep(1500);
        assertThat(https("click.newshop.test", "/open.gif").status()).isEqualTo(200);
        assertThat(https("links.example.test", "/open.gif").status()).isEqualTo(200);
        assertThat(server.metrics().scrape()).contains("clicktls_config_reloads_total{result=\"rejected\"} 1.0");
    }

    @Test
    void removedDomainStopsBeingServedEvenWithItsCertificateInMemory() throws Exception {
        replace(configFile, config("links.example.test", "gone.example.test"));
        waitUntil(
                Duration.ofSeconds(2),
                () -> https("gone.example.test", "/open.gif").status() == 200);

        replace(configFile, config("links.example.test"));
        waitUntil(
                Duration.ofSeconds(2),
                () -> https("gone.example.test", "/open.gif").status() != 200);
        int forwarded = platform.requests("/open.gif").size();
        Curl.Result gone = https("gone.example.test", "/open.gif");

        assertThat(gone.status())
                .as("no TLS session for a name no longer configured")
                .isZero();
        assertThat(gone.stderr()).containsIgnoringCase("unrecognized name");
        assertThat(platform.requests("/open.gif")).hasSize(forwarded);
    }

    @Test
    void aRemovedDomainKeepsItsStoredCertificateAndGetsItBackWhenAddedAgain() throws Exception {
        replace(configFile, config("links.example.test", "back.example.test"));
        waitUntil(
                Duration.ofSeconds(2),
                () -> https("back.example.test", "/open.gif").status() == 200);
        BigInteger serial = server.certificates()
                .cached("back.example.test")
                .orElseThrow()
                .leaf()
                .getSerialNumber();

        replace(configFile, config("links.example.test"));
        waitUntil(
                Duration.ofSeconds(2),
                () -> https("back.example.test", "/open.gif").status() == 0);
        assertThat(dir.resolve("data/certificates/back.example.test/meta.json")).exists();
        assertThat(server.certificates().cached("back.example.test")).isEmpty();

        replace(configFile, config("links.example.test", "back.example.test"));
        waitUntil(
                Duration.ofSeconds(2),
                () -> https("back.example.test", "/open.gif").status() == 200);

        assertThat(server.certificates()
                        .cached("back.example.test")
                        .orElseThrow()
                        .leaf()
                        .getSerialNumber())
                .isEqualTo(serial);
        assertThat(server.metrics().scrape()).contains("clicktls_certificates_issued_total{result=\"ok\"} 1.0");
    }

    @Test
    void restartServesTheStoredCertificateInsteadOfIssuingAnother() throws Exception {
        assertThat(https("links.example.test", "/open.gif").status()).isEqualTo(200);
        BigInteger first = server.certificates()
                .cached("links.example.test")
                .orElseThrow()
                .leaf()
                .getSerialNumber();
        server.close();

        server = ClickTlsServer.start(ConfigLoader.load(configFile), null);
        Curl.Result again = https("links.example.test", "/open.gif");

        assertThat(again.status()).isEqualTo(200);
        assertThat(server.certificates()
                        .cached("links.example.test")
                        .orElseThrow()
                        .leaf()
                        .getSerialNumber())
                .isEqualTo(first);
        assertThat(server.metrics().scrape()).contains("clicktls_certificates_issued_total{result=\"ok\"} 0.0");
        X509Certificate root = (X509Certificate)
                CertificateFactory.getInstance("X.509").generateCertificate(Files.newInputStream(root()));
        assertThat(root.getSubjectX500Principal().getName()).contains("clicktls local CA");
    }

    @Test
    void healthAndMetricsAnswerOnTheAdminListener() throws Exception {
        https("links.example.test", "/open.gif");

        Curl.Result health = Curl.http(server.adminPort(), "127.0.0.1", "/healthz");
        Curl.Result metrics = Curl.http(server.adminPort(), "127.0.0.1", "/metrics");

        assertThat(health.status()).isEqualTo(200);
        assertThat(metrics.text())
                .contains("clicktls_tls_handshakes_total{result=\"ok\"}")
                .contains("clicktls_requests_total{code=\"200\",platform=\"stand-in\"} 1.0")
                .contains("clicktls_certificates 1.0");
    }

    /** Editors replace files by rename; so does this. */
    private static void replace(Path file, String content) throws Exception {
        Path temp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.writeString(temp, content, StandardCharsets.UTF_8);
        Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /** @return milliseconds until the condition held; fails when it never did */
    private static long waitUntil(Duration limit, Callable<Boolean> condition) throws Exception {
        long start = System.nanoTime();
        long deadline = start + limit.toNanos() + Duration.ofMillis(500).toNanos();
        while (System.nanoTime() < deadline) {
            if (condition.call()) {
                return (System.nanoTime() - start) / 1_000_000;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("condition not met within " + limit);
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
