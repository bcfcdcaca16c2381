package io.clicktls;

import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.config.ConfigLoader;
import io.clicktls.testing.Curl;
import io.clicktls.testing.Pebble;
import io.clicktls.testing.StandInPlatform;
import java.io.IOException;
import java.math.BigInteger;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole node against a real ACME CA (Pebble, validating against the proxy's own listeners): certificates made
 * during the first handshake, one order for concurrent first handshakes, reuse after a restart, and a CA outage.
 */
class AcmeEndToEndIT {

    private static final int HTTPS_PORT = freePort();
    private static final int HTTP_PORT = freePort();

    private static Pebble pebble;
    private static StandInPlatform platform;

    @TempDir
    Path dir;

    private ClickTlsServer server;

    @BeforeAll
    static void startCa() throws Exception {
        platform = StandInPlatform.start();
        pebble = Pebble.builder().httpPort(HTTP_PORT).tlsPort(HTTPS_PORT).start();
    }

    @AfterAll
    static void stopCa() {
        if (pebble != null) {
            pebble.close();
        }
        if (platform != null) {
            platform.close();
        }
    }

    @AfterEach
    void stopProxy() {
        if (server != null) {
            server.close();
        }
    }

    private ClickTlsServer start(String challenges) throws Exception {
        Path file = dir.resolve("clicktls.yml");
        Files.writeString(file, """
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
                    challenges: [%s]
                  on_demand:
                    handshake_wait: 10s
                platforms:
                  stand-in:
                    upstream: http://127.0.0.1:%d
                domains:
                  - name: "*.acme.test"
                    platform: stand-in
                """.formatted(HTTPS_PORT, HTTP_PORT, pebble.directoryUrl(), pebble.trustedCaFile(), challenges,
                platform.port()));
        server = ClickTlsServer.start(ConfigLoader.load(file), null);
        return server;
    }

    /** Pebble's issuing root, new on every Pebble start. */
    private Path pebbleRoot() throws IOException {
        Path root = dir.resolve("pebble-root.pem");
        if (!Files.exists(root)) {
            Files.writeString(root, pebble.rootCertificatePem());
        }
        return root;
    }

    private Curl.Result get(String name) throws Exception {
        return Curl.https(pebbleRoot(), HTTPS_PORT, name, "/open.gif");
    }

    @Test
    void neverSeenNameGetsAValidChainOnItsFirstRequestThroughTlsAlpn01() throws Exception {
        start("tls-alpn-01");
        String name = newName();

        Curl.Result first = get(name);

        assertThat(first.exitCode()).as(first.stderr()).isZero();
        assertThat(first.status()).isEqualTo(200);
        assertThat(pebble.logText()).contains(name);
    }

    @Test
    void neverSeenNameGetsAValidChainOnItsFirstRequestThroughHttp01() throws Exception {
        start("http-01");
        String name = newName();

        Curl.Result first = get(name);

        assertThat(first.exitCode()).as(first.stderr()).isZero();
        assertThat(first.status()).isEqualTo(200);
    }

    @Test
    void twentyConcurrentFirstHandshakesCauseOneOrder() throws Exception {
        start("tls-alpn-01, http-01");
        String name = newName();
        pebbleRoot();
        int ordersBefore = pebble.orderCount();
        ExecutorService clients = Executors.newFixedThreadPool(20);
        try {
            List<Future<Curl.Result>> results = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                results.add(clients.submit(() -> get(name)));
            }
            for (Future<Curl.Result> result : results) {
                assertThat(result.get().status()).as(result.get().stderr()).isEqualTo(200);
            }
        } finally {
            clients.shutdownNow();
        }

        assertThat(pebble.orderCount() - ordersBefore).isEqualTo(1);
    }

    @Test
    void restartedProxyServesTheSameCertificateWithoutAskingTheCa() throws Exception {
        start("tls-alpn-01, http-01");
        String name = newName();
        assertThat(get(name).status()).isEqualTo(200);
        BigInteger serial = server.certificates().cached(name).orElseThrow().leaf().getSerialNumber();
        server.close();
        int ordersBefore = pebble.orderCount();

        start("tls-alpn-01, http-01");

        assertThat(get(name).status()).isEqualTo(200);
        assertThat(server.certificates().cached(name).orElseThrow().leaf().getSerialNumber()).isEqualTo(serial);
        assertThat(pebble.orderCount()).isEqualTo(ordersBefore);
    }

    private static String newName() {
        return "n" + UUID.randomUUID().toString().substring(0, 8) + ".acme.test";
    }

    private static int freePort() {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
