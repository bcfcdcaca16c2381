package io.clicktls.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.testing.Curl;
import io.clicktls.testing.StandInPlatform;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The proxy path over https, HTTP/1.1 and HTTP/2, against the stand-in platform. */
class HttpsProxyIT extends ProxyFixture {

    @ParameterizedTest
    @ValueSource(strings = {"--http1.1", "--http2"})
    void platformRedirectPassesThroughUnchanged(String protocol) throws Exception {
        Curl.Result result = curlHttps("links.shop.test", "/ls/click?upn=abc123", protocol);

        assertThat(result.status()).as(result.stderr()).isEqualTo(302);
        assertThat(result.header("location")).isEqualTo("https://destination.example/landing?x=1");
        assertThat(result.httpVersion()).isEqualTo(protocol.equals("--http2") ? "2" : "1.1");
        assertThat(standIn.requests("/ls/click")).hasSize(1);
        StandInPlatform.Received received = standIn.last();
        assertThat(received.rawUri()).isEqualTo("/ls/click?upn=abc123");
        assertThat(received.header("host")).isEqualTo("links.shop.test:" + proxy.httpsPort());
        assertThat(metrics.scrape())
                .contains("clicktls_requests_total{code=\"302\",platform=\"stand-in\"}")
                .containsPattern("clicktls_upstream_seconds_count [1-9]");
    }

    @ParameterizedTest
    @ValueSource(strings = {"--http1.1", "--http2"})
    void headRequestGetsTheHeadersOnly(String protocol) throws Exception {
        Curl.Result result = curlHttps("links.shop.test", "/page", protocol, "--head");

        assertThat(result.status()).isEqualTo(200);
        assertThat(result.header("content-length")).isEqualTo("159");
        // curl writes the headers of a HEAD response where the body would go; there must be nothing else.
        assertThat(result.text()).doesNotContain("<html");
        assertThat(standIn.last().method()).isEqualTo("HEAD");
    }

    @Test
    void pipelinedRequestsAfterAHeadAreAnsweredInOrder() throws Exception {
        String responses = rawHttps(
                "links.shop.test",
                "HEAD /page HTTP/1.1\r\nHost: links.shop.test\r\n\r\n"
                        + "GET /ls/click?second HTTP/1.1\r\nHost: links.shop.test\r\n\r\n"
                        + "GET /open.gif HTTP/1.1\r\nHost: links.shop.test\r\nConnection: close\r\n\r\n");

        assertThat(responses).startsWith("HTTP/1.1 200 OK");
        int redirect = responses.indexOf("HTTP/1.1 302 Found");
        int gif = responses.indexOf("HTTP/1.1 200 OK", redirect);
        assertThat(redirect).isPositive();
        assertThat(gif).isGreaterThan(redirect);
        assertThat(responses).endsWith(new String(StandInPlatform.PIXEL, StandardCharsets.ISO_8859_1));
        assertThat(standIn.requests())
                .extracting(StandInPlatform.Received::rawUri)
                .containsExactly("/page", "/ls/click?second", "/open.gif");
    }

    @ParameterizedTest
    @ValueSource(strings = {"--http1.1", "--http2"})
    void pathAndQueryArriveByteForByte(String protocol) throws Exception {
        String sesStyle = "/CL0/https:%2F%2Fexample.com%2F/1/abc==/x?y=%2F";
        String oddities = "//double//slashes/./dot/../dotdot/%7Euser/%2e%2E?q=a%20b+c&r=%E2%82%AC&empty=&&flag#";

        assertThat(curlHttps("links.shop.test", sesStyle, protocol).status()).isEqualTo(404);
        assertThat(standIn.last().rawUri()).isEqualTo(sesStyle);
        assertThat(curlHttps("links.shop.test", oddities.substring(0, oddities.length() - 1), protocol)
                        .status())
                .isEqualTo(404);
        assertThat(standIn.last().rawUri()).isEqualTo(oddities.substring(0, oddities.length() - 1));
    }

    @ParameterizedTest
    @ValueSource(strings = {"--http1.1", "--http2"})
    void forwardedHeadersAreAddedAndHostIsKept(String protocol) throws Exception {
        StandInPlatform.Received received = echoed(
                protocol,
                "X-Forwarded-For: 203.0.113.9",
                "X-Forwarded-Proto: gopher",
                "X-Forwarded-Host: evil.example",
                "User-Agent: Mozilla/5.0 test");

        assertThat(received.headers("host")).containsExactly("links.shop.test:" + proxy.httpsPort());
        assertThat(received.headers("x-forwarded-for")).containsExactly("203.0.113.9, 127.0.0.1");
        assertThat(received.headers("x-forwarded-proto")).containsExactly("https");
        assertThat(received.headers("x-forwarded-host")).containsExactly("links.shop.test:" + proxy.httpsPort());
        assertThat(received.header("user-agent")).isEqualTo("Mozilla/5.0 test");
        assertThat(received.headers()).noneMatch(h -> h.getKey().toLowerCase().startsWith("x-http2-"));
    }

    @Test
    void hostHeaderUpstreamSendsThePlatformsOwnName() throws Exception {
        assertThat(curlHttps("links.rewrite.test", "/echo").status()).isEqualTo(200);

        StandInPlatform.Received received = standIn.last();
        assertThat(received.header("host")).isEqualTo("127.0.0.1:" + standIn.port());
        assertThat(received.header("x-forwarded-host")).isEqualTo("links.rewrite.test:" + proxy.httpsPort());
    }

    @Test
    void hopByHopHeadersAreStrippedInBothDirections() throws Exception {
        StandInPlatform.Received received = echoed(
                "--http1.1",
                "Connection: keep-alive, X-Hop-Secret",
                "X-Hop-Secret: 1",
                "Keep-Alive: timeout=99",
                "Proxy-Authorization: Basic Zm9vOmJhcg==",
                "TE: trailers",
                "Upgrade: websocket",
                "Trailer: X-Later",
                "X-End-To-End: kept");

        assertThat(received.header("x-end-to-end")).isEqualTo("kept");
        for (String name :
                new String[] {"x-hop-secret", "keep-alive", "proxy-authorization", "te", "upgrade", "trailer"}) {
            assertThat(received.header(name)).as(name).isNull();
        }

        Curl.Result hop = curlHttps("links.shop.test", "/hop", "--http1.1");
        assertThat(hop.status()).isEqualTo(200);
        assertThat(hop.header("x-end-to-end")).isEqualTo("kept");
        assertThat(hop.header("x-hop-secret")).isNull();
        assertThat(hop.header("keep-alive")).isNull();
        assertThat(hop.header("proxy-authenticate")).isNull();
        assertThat(hop.header("strict-transport-security")).isNull();
    }

    @ParameterizedTest
    @ValueSource(strings = {"--http1.1", "--http2"})
    void postBodyIsStreamedUpstreamIntact(String protocol) throws Exception {
        byte[] body = new byte[3 * 1024 * 1024 + 17];
        new Random(42).nextBytes(body);
        Path file = Files.write(Files.createTempFile(workDir, "upload", ".bin"), body);

        Curl.Result result = curlHttps(
                "links.shop.test",
                "/upload",
                protocol,
                "--data-binary",
                "@" + file,
                "-H",
                "Content-Type: application/octet-stream");

        String sha256 =
                HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(body));
        assertThat(result.status()).as(result.stderr()).isEqualTo(200);
        assertThat(result.text()).isEqualTo(body.length + " " + sha256);
    }

    @Test
    void chunkedRequestBodyIsForwardedChunked() throws Exception {
        Curl.Result result = curlHttps(
                "links.shop.test",
                "/unsubscribe",
                "--http1.1",
                "-H",
                "Transfer-Encoding: chunked",
                "--data-binary",
                "email=a%40b.example&list=7");

        assertThat(result.status()).isEqualTo(200);
        assertThat(result.text()).isEqualTo("email=a%40b.example&list=7");
        assertThat(standIn.last().header("transfer-encoding")).isNull(); // aggregated by the stand-in
    }

    @ParameterizedTest
    @ValueSource(strings = {"--http1.1", "--http2"})
    void cookiesPassBothWays(String protocol) throws Exception {
        Curl.Result echo = curlHttps("links.shop.test", "/echo", protocol, "-H", "Cookie: a=1; b=2");
        assertThat(standIn.last().header("cookie")).isEqualTo("a=1; b=2");
        assertThat(echo.status()).isEqualTo(200);

        Curl.Result cookie = curlHttps("links.shop.test", "/cookie", protocol);
        assertThat(cookie.status()).isEqualTo(302);
        assertThat(cookie.headers().get("set-cookie"))
                .containsExactly("session=abc; Path=/; HttpOnly", "seen=1; Path=/");
    }

    @ParameterizedTest
    @ValueSource(strings = {"--http1.1", "--http2"})
    void bodiesPassUntouchedWhateverTheirFraming(String protocol) throws Exception {
        Curl.Result gif = curlHttps("links.shop.test", "/open.gif?u=1", protocol);
        assertThat(gif.body()).isEqualTo(StandInPlatform.PIXEL);
        assertThat(gif.header("content-type")).isEqualTo("image/gif");

        Curl.Result gzip = curlHttps("links.shop.test", "/page?gzip", protocol);
        assertThat(gzip.header("content-encoding")).isEqualTo("gzip");
        String html = new String(new GZIPInputStream(new ByteArrayInputStream(gzip.body())).readAllBytes());
        assertThat(html).contains("http://destination.example/");

        Curl.Result chunked = curlHttps("links.shop.test", "/page?chunked", protocol);
        assertThat(chunked.status()).isEqualTo(200);
        assertThat(chunked.text()).contains("http://destination.example/").endsWith("</html>\n");

        Curl.Result big = curlHttps("links.shop.test", "/big?bytes=5000000", protocol);
        assertThat(big.body()).hasSize(5_000_000);
    }

    @Test
    void clientThatDoesNotReadStopsTheProxyFromReadingTheUpstream() throws Exception {
        int bytes = 96 * 1024 * 1024;
        try (var socket = openTls(proxy.httpsPort(), "links.shop.test")) {
            socket.getOutputStream()
                    .write(("GET /big?bytes=" + bytes + " HTTP/1.1\r\nHost: links.shop.test\r\n\r\n")
                            .getBytes(StandardCharsets.US_ASCII));
            socket.getOutputStream().flush();
            socket.getInputStream().read(new byte[1024]);
            // the point: a window in which a proxy that kept reading would drain the upstream; nothing marks its end
            Thread.sleep(1500);

            // Loopback socket buffers hold a few MB per hop; a proxy that kept reading would hold the rest.
            assertThat(standIn.pendingResponseBytes()).isGreaterThan(bytes / 2);
        }
    }

    @Test
    void slowHttp2ClientStopsTheProxyFromReadingTheUpstream() throws Exception {
        int bytes = 96 * 1024 * 1024;
        var transfer = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
            try {
                return curlHttps(
                        "links.shop.test", "/big?bytes=" + bytes, "--http2", "--limit-rate", "100K", "--max-time", "3");
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        // the point: a window in which a proxy that ignored flow control would drain the upstream
        Thread.sleep(2000);

        // HTTP/2 flow control lets 32 MB (curl's stream window) through; the rest must wait upstream.
        assertThat(standIn.pendingResponseBytes()).isGreaterThan(bytes / 4);
        assertThat(transfer.get().exitCode()).as("curl stops at --max-time").isNotZero();
    }

    @Test
    void httpsUpstreamIsReachedWithSniAndVerificationWhileHostStaysTheTrackedDomain() throws Exception {
        Curl.Result result = curlHttps("links.tls.test", "/echo", "--http2");

        assertThat(result.status()).as(result.stderr()).isEqualTo(200);
        assertThat(standInTls.last().header("host")).isEqualTo("links.tls.test:" + proxy.httpsPort());
    }

    @Test
    void httpsUpstreamWhoseCertificateDoesNotNameItIsBadGateway() throws Exception {
        Curl.Result result = curlHttps("bad.tls.test", "/echo");

        assertThat(result.status()).isEqualTo(502);
        assertThat(standInTls.requests()).isEmpty();
    }

    @Test
    void keepAliveConnectionsToTheUpstreamAreReused() throws Exception {
        for (int i = 0; i < 6; i++) {
            assertThat(curlHttps("links.shop.test", "/ls/click?n=" + i).status())
                    .isEqualTo(302);
        }
        assertThat(standIn.requests("/ls/click")).hasSize(6);
        // Two event loops: each may open its own connection (or reuse one from an earlier test), never one per
        // request.
        assertThat(standIn.connections()).isLessThanOrEqualTo(2);
    }

    @Test
    void closeRequestGetsItsWholeResponseThenACleanTlsClose() throws Exception {
        byte[] received;
        try (javax.net.ssl.SSLSocket socket = openTls(proxy.httpsPort(), "links.shop.test")) {
            socket.setSoTimeout(4000);
            socket.getOutputStream()
                    .write(("GET /page HTTP/1.1\r\nHost: links.shop.test\r\nConnection: close\r\n\r\n"
                                    + "GET /ls/click?after-close HTTP/1.1\r\nHost: links.shop.test\r\n\r\n")
                            .getBytes(StandardCharsets.ISO_8859_1));
            // Read to the end without swallowing errors: an end without TLS's close_notify, or a reset, fails here.
            received = socket.getInputStream().readAllBytes();
        }

        String response = new String(received, StandardCharsets.ISO_8859_1);
        assertThat(response)
                .startsWith("HTTP/1.1 200 OK")
                .containsIgnoringCase("connection: close")
                .endsWith("</html>\n")
                .doesNotContain("302 Found");
        assertThat(standIn.requests())
                .extracting(StandInPlatform.Received::rawUri)
                .containsExactly("/page");
    }

    /**
     * What the platform received for {@code links.shop.test/echo} asked over {@code protocol} (e.g. {@code --http2})
     * with these request headers; the answer must be a 200.
     */
    private static StandInPlatform.Received echoed(String protocol, String... headers) throws Exception {
        List<String> args = new ArrayList<>(List.of(protocol));
        for (String header : headers) {
            args.add("-H");
            args.add(header);
        }
        assertThat(curlHttps("links.shop.test", "/echo", args.toArray(String[]::new))
                        .status())
                .isEqualTo(200);
        return standIn.last();
    }
}
