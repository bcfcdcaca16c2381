package io.clicktls.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.testing.Curl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslProvider;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** What clients get when a request is refused or the upstream fails, and what the upstream sees then. */
class ProxyErrorsIT extends ProxyFixture {

    @ParameterizedTest
    @ValueSource(strings = {"--http1.1", "--http2"})
    void hostNotServedIsMisdirected(String protocol) throws Exception {
        Curl.Result result = curlHttps("nowhere.other.test", "/ls/click?upn=1", protocol);

        assertThat(result.status()).isEqualTo(421);
        assertThat(standIn.requests()).isEmpty();
        assertThat(metrics.scrape()).contains("clicktls_requests_total{code=\"421\",platform=\"none\"}");
    }

    @ParameterizedTest
    @ValueSource(strings = {"--http1.1", "--http2"})
    void hostOtherThanTheConnectionsServerNameIsMisdirected(String protocol) throws Exception {
        // TLS for a.shop.test, then a request for b.shop.test on that connection: both served, yet misdirected.
        Curl.Result result = curlHttps("a.shop.test", "/ls/click", protocol, "-H", "Host: b.shop.test");

        assertThat(result.status()).isEqualTo(421);
        assertThat(standIn.requests()).isEmpty();
    }

    @Test
    void requestWithoutHostIsBadRequest() throws Exception {
        String response = rawHttps("links.shop.test", "GET /ls/click HTTP/1.1\r\n\r\n");

        assertThat(response).startsWith("HTTP/1.1 400 ");
        assertThat(response).containsIgnoringCase("connection: close");
        assertThat(standIn.requests()).isEmpty();
    }

    @Test
    void twoHostHeadersAreBadRequest() throws Exception {
        String response = rawHttps(
                "links.shop.test", "GET /ls/click HTTP/1.1\r\nHost: links.shop.test\r\nHost: other.shop.test\r\n\r\n");

        assertThat(response).startsWith("HTTP/1.1 400 ");
        assertThat(standIn.requests()).isEmpty();
    }

    @ParameterizedTest
    @ValueSource(strings = {"--http1.1", "--http2"})
    void oversizedHeadersAreRefusedWith431(String protocol) throws Exception {
        Curl.Result result = curlHttps("links.shop.test", "/ls/click", protocol, "-H", "X-Big: " + "a".repeat(20_000));

        assertThat(result.status()).isEqualTo(431);
        assertThat(standIn.requests()).isEmpty();
    }

    @Test
    void overlongRequestLineIsRefusedWith414() throws Exception {
        Curl.Result result = curlHttps("links.shop.test", "/ls/click?upn=" + "a".repeat(9_000), "--http1.1");

        assertThat(result.status()).isEqualTo(414);
        assertThat(standIn.requests()).isEmpty();
    }

    @ParameterizedTest
    @ValueSource(
            strings = {
                "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
                "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
                "Content-Length: 5\r\nContent-Length: 6\r\n",
                "Content-Length: 5, 6\r\n",
                "Transfer-Encoding: xchunked\r\n",
                "Transfer-Encoding: chunked, identity\r\n",
                "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
                "Transfer-Encoding : chunked\r\n",
            })
    void ambiguousRequestFramingIsRefusedAndNothingReachesTheUpstream(String framing) throws Exception {
        String smuggled = "GET /ls/click?smuggled=1 HTTP/1.1\r\nHost: links.shop.test\r\n\r\n";
        String request =
                "POST /unsubscribe HTTP/1.1\r\nHost: links.shop.test\r\n" + framing + "\r\n" + "0\r\n\r\n" + smuggled;

        String response = rawHttps("links.shop.test", request);

        assertThat(response).startsWith("HTTP/1.1 400 ");
        assertThat(response).doesNotContain("HTTP/1.1 302");
        assertThat(standIn.requests()).isEmpty();
        assertThat(standIn.connections()).isZero();
    }

    @Test
    void transferEncodingInAnHttp10RequestIsRefused() throws Exception {
        String response = rawHttps(
                "links.shop.test",
                "POST /unsubscribe HTTP/1.0\r\nHost: links.shop.test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");

        assertThat(response).startsWith("HTTP/1.1 400 ");
        assertThat(standIn.requests()).isEmpty();
    }

    @ParameterizedTest
    @ValueSource(strings = {"--http1.1", "--http2"})
    void unreachableUpstreamIsBadGateway(String protocol) throws Exception {
        Curl.Result result = curlHttps("links.down.test", "/ls/click", protocol);

        assertThat(result.status()).isEqualTo(502);
        assertThat(result.header("content-type")).startsWith("text/plain");
        assertThat(metrics.scrape()).contains("clicktls_requests_total{code=\"502\",platform=\"down\"}");
    }

    @ParameterizedTest
    @ValueSource(strings = {"--http1.1", "--http2"})
    void slowUpstreamIsGatewayTimeoutWithinTheResponseTimeout(String protocol) throws Exception {
        long start = System.nanoTime();
        Curl.Result result = curlHttps("links.shop.test", "/slow", protocol);
        Duration took = Duration.ofNanos(System.nanoTime() - start);

        assertThat(result.status()).isEqualTo(504);
        assertThat(took).isBetween(RESPONSE_TIMEOUT.minusMillis(100), RESPONSE_TIMEOUT.plusSeconds(2));
        assertThat(standIn.requests("/slow")).hasSize(1);
    }

    @ParameterizedTest
    @ValueSource(strings = {"--http1.1", "--http2"})
    void postWhoseUpstreamConnectionBreaksIsNotRetried(String protocol) throws Exception {
        // Warm the pool first, so that the POST goes out on a reused connection: the case where a retry is tempting.
        assertThat(curlHttps("links.shop.test", "/ls/click", protocol).status()).isEqualTo(302);
        assertThat(curlHttps("links.shop.test", "/ls/click", protocol).status()).isEqualTo(302);

        Curl.Result result = curlHttps("links.shop.test", "/break", protocol, "--data-binary", "click=1");

        assertThat(result.status()).isEqualTo(502);
        Thread.sleep(300); // the point: a window in which a retry, were there one, would reach the platform
        assertThat(standIn.requests("/break")).hasSize(1);
    }

    @ParameterizedTest
    @ValueSource(strings = {"--http1.1", "--http2"})
    void upstreamClosingMidResponseEndsTheClientConnectionRatherThanFakingAnEnd(String protocol) throws Exception {
        Curl.Result result = curlHttps("links.shop.test", "/truncated", protocol);

        assertThat(result.status()).isEqualTo(200);
        assertThat(result.exitCode()).as("curl exit code").isNotZero();
        assertThat(result.body().length).isLessThan(1000);
    }

    @Test
    void withoutSniTheCertificateShownDecidesWhichHostsMayBeAsked() throws Exception {
        String covered = rawHttps(null, "GET /ls/click HTTP/1.1\r\nHost: links.shop.test\r\nConnection: close\r\n\r\n");
        String uncovered =
                rawHttps(null, "GET /ls/click HTTP/1.1\r\nHost: links.uncovered.test\r\nConnection: close\r\n\r\n");

        assertThat(covered).startsWith("HTTP/1.1 302 ");
        assertThat(uncovered).startsWith("HTTP/1.1 421 ");
        assertThat(standIn.requests()).hasSize(1);
    }

    @ParameterizedTest
    @ValueSource(strings = {"--http1.1", "--http2"})
    void serverNameCheckWorksWithTheJdkTlsProviderToo(String protocol) throws Exception {
        SslContext jdk = tlsServerContext(SslProvider.JDK);
        ProxyServer jdkProxy = proxyBuilder()
                .tlsHandlerFactory(ch -> jdk.newHandler(ch.alloc()))
                .build()
                .start();
        try {
            Curl.Result same = curlHttps(jdkProxy.httpsPort(), "a.shop.test", "/ls/click", protocol);
            Curl.Result other =
                    curlHttps(jdkProxy.httpsPort(), "a.shop.test", "/ls/click", protocol, "-H", "Host: b.shop.test");

            assertThat(same.status()).isEqualTo(302);
            assertThat(same.httpVersion()).isEqualTo(protocol.equals("--http2") ? "2" : "1.1");
            assertThat(other.status()).isEqualTo(421);
            assertThat(standIn.requests()).hasSize(1);
        } finally {
            jdkProxy.close();
        }
    }

    @Test
    void unknownTlsServerNameStillGetsAnAnswerOnlyForServedHosts() throws Exception {
        // The test TLS context answers any SNI; the proxy then refuses the Host.
        String response = rawHttps(
                "nowhere.other.test", "GET / HTTP/1.1\r\nHost: nowhere.other.test\r\nConnection: close\r\n\r\n");

        assertThat(response).startsWith("HTTP/1.1 421 ");
    }
}
