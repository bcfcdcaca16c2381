package io.clicktls;

import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.certificates.RenewalScheduler;
import io.clicktls.config.ConfigLoader;
import io.clicktls.testing.ClientHelloProbe;
import io.clicktls.testing.MutableClock;
import io.clicktls.testing.PerClass;
import io.clicktls.testing.ScrapedCounts;
import io.clicktls.testing.StandInPlatform;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole node (internal CA, a stand-in platform) while clients ask for random names under an allowed wildcard
 * over plain http, which issues a certificate to redirect: such lookups take the same per-client pending slots as TLS
 * handshakes, a client can spend only its share of a registered domain's new names, and a name already held is
 * renewed whatever the new-name budgets say.
 */
class IssuanceBudgetsIT {

    @RegisterExtension
    static final PerClass<StandInPlatform> platform = PerClass.of(StandInPlatform::start);

    @TempDir
    Path dir;

    private ClickTlsServer server;

    @AfterEach
    void stopProxy() {
        if (server != null) {
            server.close();
        }
    }

    @Test
    void plainHttpRequestsForNewNamesTakeTheSamePerClientPendingSlotsAsHandshakes() throws Exception {
        try (SilentDns dns = new SilentDns()) {
            start(
                    Clock.systemUTC(),
                    """
                        handshake_wait: 2s
                        expect_dns: [127.0.0.1]
                        dns_server: 127.0.0.1:%d
                        pending_handshakes: { per_client: 2, total: 64 }
                        prefetch: false
                    """
                            .formatted(dns.port()),
                    "");
            List<String> names = new ArrayList<>();
            for (int i = 0; i < 12; i++) {
                names.add(newName("pending"));
            }

            ExecutorService clients = Executors.newFixedThreadPool(names.size());
            try {
                List<Future<Integer>> statuses = new ArrayList<>();
                for (String name : names) {
                    statuses.add(clients.submit(() -> httpStatus("127.0.0.1", name)));
                }
                for (Future<Integer> status : statuses) {
                    assertThat(status.get())
                            .as("forwarded over http, as without a certificate")
                            .isEqualTo(200);
                }
            } finally {
                clients.shutdownNow();
            }

            assertThat(dns.namesAsked())
                    .as("only the lookups that got one of the client's 2 slots reached the DNS check")
                    .hasSize(2);
            assertThat(deniedCounts()).containsEntry("too_many_pending", 10.0);
        }
    }

    @Test
    void oneClientSpendsOnlyItsShareOfARegisteredDomainsNewNamesAndOthersStillGetTheirs() throws Exception {
        start(
                Clock.systemUTC(),
                """
                    handshake_wait: 10s
                """,
                """
                  limits:
                    certificates_per_registered_domain_per_week: 8
                    new_names_per_client_per_registered_domain_per_week: 2
                """);
        int redirected = 0;
        for (int i = 0; i < 20; i++) {
            int status = httpStatus("127.0.0.1", newName("flood"));
            assertThat(status).isIn(200, 308);
            if (status == 308) {
                redirected++;
            }
        }

        assertThat(redirected)
                .as("certificates issued for the flooding client's names")
                .isEqualTo(2);
        assertThat(deniedCounts()).containsEntry("client_budget", 18.0);
        assertThat(handshakeRefused("127.0.0.1", newName("flood-tls")))
                .as("the share is the client's over TLS as well")
                .isTrue();
        assertThat(deniedCounts()).containsEntry("client_budget", 19.0);
        assertThat(httpStatus("127.0.0.2", newName("legit")))
                .as("another client's new name is still issued")
                .isEqualTo(308);
        assertThat(httpStatus("127.0.0.1", "listed.real.test"))
                .as("a name listed exactly in domains is the operator's, not the client's")
                .isEqualTo(308);
    }

    @Test
    void aNameWhoseCertificateExpiredIsIssuedAgainWhenTheNewNameBudgetsAreSpent() throws Exception {
        MutableClock clock = new MutableClock(Instant.now());
        start(
                clock,
                """
                    handshake_wait: 10s
                """,
                """
                  limits:
                    certificates_per_registered_domain_per_week: 4
                    new_names_per_client_per_registered_domain_per_week: 2
                """);
        String held = newName("held");
        assertThat(httpStatus("127.0.0.1", held)).isEqualTo(308);

        // Past the certificate's 90 days (and so past every window): the same node, its renewals not yet planned
        // for this moment, meets the name again only through a click.
        clock.advance(Duration.ofDays(100));
        for (String client : List.of("127.0.0.2", "127.0.0.3")) {
            for (int i = 0; i < 2; i++) {
                assertThat(httpStatus(client, newName("fill"))).isEqualTo(308);
            }
        }
        assertThat(httpStatus("127.0.0.4", newName("late")))
                .as("the registered domain's week is spent")
                .isEqualTo(200);

        assertThat(httpStatus("127.0.0.4", held))
                .as("the expired name is issued again: a renewal, not a new name")
                .isEqualTo(308);
        assertThat(server.certificates().cached(held)).isPresent();
    }

    // ---- helpers

    private void start(Clock clock, String onDemand, String limits) throws Exception {
        Path file = dir.resolve("clicktls.yml");
        Files.writeString(
                file,
                """
                listen:
                  https: 127.0.0.1:0
                  http: 127.0.0.1:0
                  admin: 127.0.0.1:0
                storage:
                  directory: %s
                certificates:
                  issuer: internal
                  on_demand:
                %s%s
                platforms:
                  stand-in:
                    upstream: http://127.0.0.1:%d
                domains:
                  - name: "*.real.test"
                    platform: stand-in
                  - name: listed.real.test
                    platform: stand-in
                """
                        .formatted(
                                dir.resolve("data"),
                                onDemand,
                                limits,
                                platform.get().port()));
        server = ClickTlsServer.start(ConfigLoader.load(file), null, clock, RenewalScheduler.Settings.DEFAULTS);
    }

    private static String newName(String prefix) {
        return prefix + "-" + UUID.randomUUID().toString().substring(0, 8) + ".real.test";
    }

    /** A plain-http GET for {@code host} from the loopback address {@code source}; the response's status code. */
    private int httpStatus(String source, String host) throws IOException {
        try (Socket socket = new Socket()) {
            socket.bind(new InetSocketAddress(source, 0));
            socket.connect(new InetSocketAddress("127.0.0.1", server.httpPort()), 2000);
            socket.setSoTimeout(20_000);
            OutputStream out = socket.getOutputStream();
            out.write(("GET /open.gif HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = socket.getInputStream();
            ByteArrayOutputStream line = new ByteArrayOutputStream();
            for (int b = in.read(); b != -1 && b != '\n'; b = in.read()) {
                line.write(b);
            }
            String status = line.toString(StandardCharsets.US_ASCII);
            assertThat(status).startsWith("HTTP/1.1 ");
            return Integer.parseInt(status.substring(9, 12));
        }
    }

    /** A ClientHello for {@code name} from {@code source}: true when the proxy answers with an alert or closes. */
    private boolean handshakeRefused(String source, String name) throws IOException {
        return ClientHelloProbe.refused(source, server.httpsPort(), ClientHelloProbe.clientHello(name), 20_000);
    }

    private Map<String, Double> deniedCounts() {
        return ScrapedCounts.byLabel(server.metrics().scrape(), "clicktls_on_demand_denied_total", "reason");
    }

    /**
     * A DNS server that never answers and notes the names asked: each lookup that reaches the DNS check waits for
     * its timeout, long enough for the requests after it to find its slot taken.
     */
    private static final class SilentDns implements AutoCloseable {
        private final DatagramSocket socket = new DatagramSocket(0, InetAddress.getLoopbackAddress());
        private final Set<String> names = ConcurrentHashMap.newKeySet();
        private final Thread reader = new Thread(this::read, "silent-dns");

        SilentDns() throws IOException {
            reader.setDaemon(true);
            reader.start();
        }

        int port() {
            return socket.getLocalPort();
        }

        Set<String> namesAsked() {
            return names;
        }

        private void read() {
            byte[] buffer = new byte[1500];
            while (!socket.isClosed()) {
                DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
                try {
                    socket.receive(packet);
                } catch (IOException e) {
                    return;
                }
                names.add(questionName(packet.getData(), packet.getLength()));
            }
        }

        /** The QNAME of the first question, after the 12-byte header, lower-cased. */
        private static String questionName(byte[] data, int length) {
            StringBuilder name = new StringBuilder();
            int at = 12;
            while (at < length && data[at] != 0) {
                int label = data[at] & 0xff;
                if (name.length() > 0) {
                    name.append('.');
                }
                name.append(new String(data, at + 1, Math.min(label, length - at - 1), StandardCharsets.US_ASCII));
                at += label + 1;
            }
            return name.toString().toLowerCase(java.util.Locale.ROOT);
        }

        @Override
        public void close() {
            socket.close();
        }
    }
}
