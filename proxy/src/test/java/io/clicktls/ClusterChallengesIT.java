package io.clicktls;

import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.testing.LocalServers;
import io.clicktls.testing.NodeCluster;
import io.clicktls.testing.Pebble;
import io.clicktls.testing.RunningNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.UUID;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The CA's validation may land on any node: node A places the order, Pebble validates at node B (challtestsrv's DNS
 * sends the name to 127.0.0.2, where B listens on the same ports A has on 127.0.0.1), and B answers from what A
 * published to the shared storage.
 */
class ClusterChallengesIT {

    private static final int HTTPS_PORT = LocalServers.freePort();
    private static final int HTTP_PORT = LocalServers.freePort();

    private static Pebble pebble;

    @RegisterExtension
    final NodeCluster cluster = new NodeCluster();

    @BeforeAll
    static void startCa() {
        pebble = Pebble.builder().httpPort(HTTP_PORT).tlsPort(HTTPS_PORT).start();
    }

    @AfterAll
    static void stopCa() {
        pebble.close();
    }

    @Test
    void theCaValidatesHttp01ThroughNodeBWhileNodeAPlacedTheOrder() throws Exception {
        assertIssuedThroughNodeB("http-01");
    }

    @Test
    void theCaValidatesTlsAlpn01ThroughNodeBWhileNodeAPlacedTheOrder() throws Exception {
        assertIssuedThroughNodeB("tls-alpn-01");
    }

    private void assertIssuedThroughNodeB(String challenge) throws Exception {
        List<RunningNode> nodes = cluster.start(
                config -> {
                    String address =
                            config.file().getParent().getFileName().toString().equals("a") ? "127.0.0.1" : "127.0.0.2";
                    return config.set("listen.https", address + ":" + HTTPS_PORT)
                            .set("listen.http", address + ":" + HTTP_PORT)
                            .acme(pebble.directoryUrl(), pebble.trustedCaFile(), challenge)
                            .set("certificates.acme.email", "ops@example.com")
                            .set("certificates.on_demand.handshake_wait", "20s")
                            .platform("shop", 1)
                            .domains("shop", "*.acme.test");
                },
                "a",
                "b");
        RunningNode a = nodes.get(0);
        String name = "n" + UUID.randomUUID().toString().substring(0, 8) + ".acme.test";
        pebble.addA(name, "127.0.0.2");
        Path root = cluster.directory().resolve("pebble-root.pem");
        Files.writeString(root, pebble.rootCertificatePem());
        a.trust(root);
        int ordersBefore = pebble.orderCount();

        X509Certificate leaf;
        try (SSLSocket socket = a.tlsSocket(name)) {
            leaf = (X509Certificate) socket.getSession().getPeerCertificates()[0];
        }

        assertThat(leaf.getSubjectAlternativeNames().toString()).contains(name);
        assertThat(pebble.orderCount() - ordersBefore).isEqualTo(1);
        assertThat(pebble.logText()).contains(name);
    }
}
