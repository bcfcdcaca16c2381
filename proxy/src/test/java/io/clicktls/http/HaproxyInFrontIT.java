package io.clicktls.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.testing.Curl;
import io.clicktls.testing.RunningNode;
import io.clicktls.testing.StandInPlatform;
import io.clicktls.testing.TcpBalancer;
import io.clicktls.testing.TcpBalancer.Route;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A real HAProxy in TCP mode in front of a node, as an operator runs two nodes behind one address: {@code send-proxy}
 * and {@code send-proxy-v2} to the https and the http listener. curl connects to HAProxy from 127.0.0.3; HAProxy
 * connects to the node from 127.0.0.1, the one source {@code listen.proxy_protocol.from} lists.
 */
class HaproxyInFrontIT {

    private static final String NAME = "links.example.test";
    private static final String CLIENT = "127.0.0.3";

    @TempDir
    static Path dir;

    @AutoClose
    private static StandInPlatform platform;

    @AutoClose
    private static RunningNode node;

    @AutoClose
    private static TcpBalancer haproxy;

    @BeforeAll
    static void start() throws Exception {
        platform = StandInPlatform.start();
        node = RunningNode.start(RunningNode.config(dir)
                .platform("stand-in", platform.port())
                .domains("stand-in", NAME)
                .set("listen.proxy_protocol.from", "[127.0.0.1]")
                .set("upgrade.http", "proxy"));
        haproxy = TcpBalancer.start(
                dir,
                List.of(
                        new Route("https-v1", node.httpsPort(), "send-proxy"),
                        new Route("https-v2", node.httpsPort(), "send-proxy-v2"),
                        new Route("http-v1", node.httpPort(), "send-proxy"),
                        new Route("http-v2", node.httpPort(), "send-proxy-v2"),
                        new Route("https-none", node.httpsPort(), "")));
    }

    @BeforeEach
    void forgetRequests() {
        platform.reset();
    }

    @ParameterizedTest
    @CsvSource({"https-v1", "https-v2", "http-v1", "http-v2"})
    void clientBehindHaproxyReachesThePlatformUnderItsOwnAddress(String route) throws Exception {
        int port = haproxy.port(route);
        Curl.Result result = route.startsWith("https")
                ? Curl.https(node.internalRoot(), port, NAME, "/ls/click", "--interface", CLIENT)
                : Curl.http(port, NAME, "/ls/click", "--interface", CLIENT);

        assertThat(result.status()).as(result.stderr() + haproxy.log()).isEqualTo(302);
        assertThat(result.httpVersion())
                .as("curl speaks HTTP/2 over TLS: the stream finds the client on its connection")
                .isEqualTo(route.startsWith("https") ? "2" : "1.1");
        assertThat(platform.last().headers("x-forwarded-for")).containsExactly(CLIENT);
    }

    @Test
    void haproxyWithoutSendProxyIsClosedAndNothingReachesThePlatform() throws Exception {
        Curl.Result result =
                Curl.https(node.internalRoot(), haproxy.port("https-none"), NAME, "/ls/click", "--interface", CLIENT);

        assertThat(result.status()).as(result.stderr()).isZero();
        assertThat(platform.requests()).isEmpty();
    }
}
