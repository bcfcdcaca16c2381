package io.clicktls.http;

import static io.clicktls.testing.ProxyHeaders.at;
import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.testing.ClientTls;
import io.clicktls.testing.Curl;
import io.clicktls.testing.Eventually;
import io.clicktls.testing.ProxyHeaders;
import io.clicktls.testing.RunningNode;
import io.clicktls.testing.ScrapedCounts;
import io.clicktls.testing.StandInPlatform;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * {@code listen.proxy_protocol.from: [127.0.0.1/32]}: the test plays the load balancer on raw sockets from 127.0.0.1
 * and an intruder from 127.0.0.2; the stand-in platform shows what {@code X-Forwarded-For} the node sent.
 */
class ProxyProtocolIT {

    private static final String NAME = "links.example.test";
    private static final String CLICK = "/ls/click";

    @TempDir
    Path dir;

    @AutoClose
    private StandInPlatform platform;

    @AutoClose
    private RunningNode node;

    private RunningNode.Config config;
    private final List<Socket> sockets = new ArrayList<>();

    enum Version {
        V1,
        V2
    }

    @BeforeEach
    void start() throws Exception {
        platform = StandInPlatform.start();
        config = RunningNode.config(dir)
                .platform("stand-in", platform.port())
                .domains("stand-in", NAME, "*.budget.test")
                .set("listen.proxy_protocol.from", "[127.0.0.1/32]")
                .set("limits.max_connections_per_client", "2")
                .set("certificates.limits.new_names_per_client_per_registered_domain_per_week", "1")
                .set("upgrade.http", "proxy");
        node = RunningNode.start(config);
    }

    @AfterEach
    void closeSockets() throws IOException {
        for (Socket socket : sockets) {
            socket.close();
        }
    }

    @ParameterizedTest
    @EnumSource(Version.class)
    void headerOverHttpsNamesTheClientInXForwardedFor(Version version) throws Exception {
        Socket balancer = connect("127.0.0.1", node.httpsPort());
        balancer.getOutputStream().write(header(version, at("203.0.113.7", 40001), node.httpsPort()));
        SSLSocket tls = tls(balancer, NAME);

        assertThat(exchange(tls)).startsWith("HTTP/1.1 302");
        assertThat(platform.last().headers("x-forwarded-for")).containsExactly("203.0.113.7");
    }

    @ParameterizedTest
    @EnumSource(Version.class)
    void headerOverHttpNamesTheClientInXForwardedFor(Version version) throws Exception {
        Socket balancer = connect("127.0.0.1", node.httpPort());
        balancer.getOutputStream().write(header(version, at("2001:db8::7", 40002), node.httpPort()));

        assertThat(exchange(balancer)).startsWith("HTTP/1.1 302");
        assertThat(platform.last().headers("x-forwarded-for")).containsExactly("2001:db8:0:0:0:0:0:7");
    }

    @Test
    void localHeaderOfAHealthCheckKeepsTheBalancersOwnAddress() throws Exception {
        Socket balancer = connect("127.0.0.1", node.httpPort());
        balancer.getOutputStream().write(ProxyHeaders.v2Local());

        assertThat(exchange(balancer)).startsWith("HTTP/1.1 302");
        assertThat(platform.last().headers("x-forwarded-for")).containsExactly("127.0.0.1");
    }

    @Test
    void sourceNotListedIsRefusedAtOnceOnBothListeners() throws Exception {
        for (int port : new int[] {node.httpsPort(), node.httpPort()}) {
            Socket intruder = connect("127.0.0.2", port);
            intruder.getOutputStream().write(ProxyHeaders.v1(at("203.0.113.8", 40003), at("127.0.0.1", port)));
            assertThat(closedWithin(intruder, 5_000))
                    .as("refused on port %d", port)
                    .isTrue();
        }

        assertThat(platform.requests()).isEmpty();
        assertThat(counts("clicktls_connections_refused_total", "reason")).containsEntry("proxy_protocol", 2.0);
    }

    @Test
    void listedSourceWithoutAHeaderIsClosedAsAMalformedOne() throws Exception {
        Curl.Result https = node.https(NAME, CLICK);
        Curl.Result http = node.http(NAME, CLICK);

        assertThat(https.status()).as(https.stderr()).isZero();
        assertThat(http.status()).as(http.stderr()).isZero();
        assertThat(platform.requests()).isEmpty();
        // the client sees the close as soon as it is sent; the count may land on the event loop a moment later
        Eventually.holds(Duration.ofSeconds(10), "two connections counted as malformed", () -> Double.valueOf(2.0)
                .equals(counts("clicktls_client_errors_total", "kind").get("malformed")));
    }

    @Test
    void listedSourceThatSendsNothingIsClosedAfterTheHeaderTimeout() throws Exception {
        Socket silent = connect("127.0.0.1", node.httpPort());
        long start = System.nanoTime();

        assertThat(closedWithin(silent, 20_000)).isTrue();
        assertThat((System.nanoTime() - start) / 1_000_000)
                .as("milliseconds until closed")
                .isGreaterThanOrEqualTo(ProxyProtocolAdmission.HEADER_TIMEOUT.toMillis() - 500);
        assertThat(counts("clicktls_client_errors_total", "kind").get("timeout"))
                .isEqualTo(1.0);
    }

    @Test
    void perClientLimitCountsTheClientTheHeaderNamesNotTheBalancer() throws Exception {
        assertThat(heldFrom("203.0.113.20", 3))
                .as("max_connections_per_client 2")
                .isEqualTo(2);
        assertThat(heldFrom("203.0.113.21", 1))
                .as("another client through the same balancer")
                .isEqualTo(1);
        assertThat(counts("clicktls_connections_refused_total", "reason"))
                .containsEntry("max_connections_per_client", 1.0);
    }

    @Test
    void reloadThatListsAnotherBalancerAppliesToTheNextConnection() throws Exception {
        config.set("listen.proxy_protocol.from", "[127.0.0.2]").replace();
        Eventually.holds(
                Duration.ofSeconds(10),
                "the reload",
                () -> counts("clicktls_config_reloads_total", "result").get("ok") == 1.0);

        Socket former = connect("127.0.0.1", node.httpPort());
        former.getOutputStream().write(ProxyHeaders.v1(at("203.0.113.9", 40004), at("127.0.0.1", node.httpPort())));
        assertThat(closedWithin(former, 5_000))
                .as("127.0.0.1 is no longer listed")
                .isTrue();
        Socket listed = connect("127.0.0.2", node.httpPort());
        listed.getOutputStream().write(ProxyHeaders.v1(at("203.0.113.9", 40005), at("127.0.0.1", node.httpPort())));
        assertThat(exchange(listed)).startsWith("HTTP/1.1 302");
        assertThat(platform.last().headers("x-forwarded-for")).containsExactly("203.0.113.9");
    }

    @Test
    void newNameBudgetIsTheClientsTheHeaderNamesNotTheBalancers() throws Exception {
        assertThat(handshakeSucceeds("203.0.113.30", "first.budget.test")).isTrue();
        assertThat(handshakeSucceeds("203.0.113.30", "second.budget.test"))
                .as("new_names_per_client_per_registered_domain_per_week 1")
                .isFalse();
        assertThat(handshakeSucceeds("203.0.113.31", "third.budget.test"))
                .as("another client through the same balancer")
                .isTrue();
        assertThat(counts("clicktls_on_demand_denied_total", "reason")).containsEntry("client_budget", 1.0);
    }

    /** A TLS handshake for {@code name} through the balancer for {@code client}: whether it completed. */
    private boolean handshakeSucceeds(String client, String name) throws Exception {
        Socket balancer = connect("127.0.0.1", node.httpsPort());
        balancer.getOutputStream().write(ProxyHeaders.v2(at(client, 40200), at("127.0.0.1", node.httpsPort())));
        try {
            tls(balancer, name).startHandshake();
            return true;
        } catch (SSLException refused) {
            return false;
        }
    }

    /** TLS over {@code socket} (its PROXY header already sent) with SNI {@code name}, trusting the node's CA. */
    private SSLSocket tls(Socket socket, String name) throws Exception {
        SSLSocket tls = (SSLSocket) ClientTls.trusting(ClientTls.readPem(node.internalRoot()))
                .getSocketFactory()
                .createSocket(socket, name, socket.getPort(), true);
        SSLParameters parameters = tls.getSSLParameters();
        parameters.setServerNames(List.of(new SNIHostName(name)));
        tls.setSSLParameters(parameters);
        return tls;
    }

    /** Opens {@code count} http connections through the balancer for {@code client}; how many stay open. */
    private int heldFrom(String client, int count) throws IOException {
        int held = 0;
        for (int i = 0; i < count; i++) {
            Socket balancer = connect("127.0.0.1", node.httpPort());
            balancer.getOutputStream().write(ProxyHeaders.v2(at(client, 40100 + i), at("127.0.0.1", node.httpPort())));
            if (!closedWithin(balancer, 500)) {
                held++;
            }
        }
        return held;
    }

    private static byte[] header(Version version, InetSocketAddress client, int port) {
        InetSocketAddress destination = at(client.getAddress().getAddress().length == 4 ? "127.0.0.1" : "::1", port);
        return version == Version.V1 ? ProxyHeaders.v1(client, destination) : ProxyHeaders.v2(client, destination);
    }

    private Socket connect(String from, int port) throws IOException {
        Socket socket = new Socket();
        sockets.add(socket);
        socket.bind(new InetSocketAddress(from, 0));
        socket.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
        socket.setSoTimeout(15_000);
        return socket;
    }

    /** One request with {@code Connection: close}; the whole response as text. */
    private static String exchange(Socket socket) throws IOException {
        String request = "GET " + CLICK + " HTTP/1.1\r\nHost: " + NAME + "\r\nConnection: close\r\n\r\n";
        socket.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
        socket.getOutputStream().flush();
        return new String(socket.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
    }

    /** Whether the node closes {@code socket} (end of stream or reset) within {@code millis}. */
    private static boolean closedWithin(Socket socket, int millis) throws IOException {
        socket.setSoTimeout(millis);
        InputStream in = socket.getInputStream();
        try {
            return in.read() == -1;
        } catch (SocketTimeoutException stillOpen) {
            return false;
        } catch (IOException reset) {
            return true;
        }
    }

    private Map<String, Double> counts(String family, String label) {
        return ScrapedCounts.byLabel(node.server().metrics().scrape(), family, label);
    }
}
