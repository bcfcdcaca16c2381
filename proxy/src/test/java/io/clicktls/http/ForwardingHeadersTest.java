package io.clicktls.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.config.Platform;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import java.net.URI;
import org.junit.jupiter.api.Test;

class ForwardingHeadersTest {

    private static final Platform PRESERVE =
            new Platform("p", URI.create("https://sendgrid.net"), Platform.HostHeader.PRESERVE);
    private static final Platform UPSTREAM =
            new Platform("u", URI.create("http://mailgun.example:8080"), Platform.HostHeader.UPSTREAM);

    @Test
    void connectionAndTheHeadersItNamesAreRemovedWithTheOtherHopByHopHeaders() {
        HttpHeaders headers = new DefaultHttpHeaders()
                .add("Connection", "keep-alive, X-One")
                .add("Connection", "x-two")
                .add("X-One", "1")
                .add("X-Two", "2")
                .add("X-Three", "3")
                .add("Keep-Alive", "timeout=5")
                .add("Proxy-Authorization", "x")
                .add("Proxy-Connection", "close")
                .add("TE", "trailers")
                .add("Trailer", "X-T")
                .add("Transfer-Encoding", "chunked")
                .add("Upgrade", "h2c");

        ForwardingHeaders.stripHopByHop(headers);

        assertThat(headers.names()).containsExactly("X-Three");
    }

    @Test
    void connectionOptionsThatOnlyLookLikeKeepAliveStillNameHeadersToRemove() {
        HttpHeaders headers = new DefaultHttpHeaders()
                .add("Connection", "KEEP-ALIVE ,keep, keep-alive-x")
                .add("Keep", "1")
                .add("Keep-Alive-X", "2")
                .add("Server", "nginx");

        ForwardingHeaders.stripHopByHop(headers);

        assertThat(headers.names()).containsExactly("Server");
    }

    @Test
    void upstreamRequestKeepsTargetHostAndCookiesAndAddsForwardedHeaders() {
        HttpRequest in = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/ignored");
        in.headers()
                .add("Host", "Links.Shop.test")
                .add("Cookie", "a=1; b=2")
                .add("X-Forwarded-For", "198.51.100.1")
                .add("X-Forwarded-For", "198.51.100.2")
                .add("X-Forwarded-Host", "spoofed")
                .add("x-http2-stream-id", "3")
                .add("Expect", "100-continue");

        HttpRequest out = ForwardingHeaders.upstreamRequest(
                in, "/a//b?c=%2F", "Links.Shop.test", PRESERVE, "203.0.113.7", "https");

        assertThat(out.uri()).isEqualTo("/a//b?c=%2F");
        assertThat(out.protocolVersion()).isEqualTo(HttpVersion.HTTP_1_1);
        assertThat(out.headers().getAll("host")).containsExactly("Links.Shop.test");
        assertThat(out.headers().get("cookie")).isEqualTo("a=1; b=2");
        assertThat(out.headers().getAll("x-forwarded-for")).containsExactly("198.51.100.1, 198.51.100.2, 203.0.113.7");
        assertThat(out.headers().get("x-forwarded-proto")).isEqualTo("https");
        assertThat(out.headers().getAll("x-forwarded-host")).containsExactly("Links.Shop.test");
        assertThat(out.headers().contains("x-http2-stream-id")).isFalse();
        assertThat(out.headers().contains("expect")).isFalse();
    }

    @Test
    void hostHeaderUpstreamNamesTheUpstreamWithItsPortUnlessDefault() {
        HttpRequest in = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/");

        assertThat(ForwardingHeaders.upstreamRequest(in, "/", "t.example", UPSTREAM, "::1", "http")
                        .headers()
                        .get("host"))
                .isEqualTo("mailgun.example:8080");
        Platform https = new Platform("h", URI.create("https://spgo.io"), Platform.HostHeader.UPSTREAM);
        assertThat(ForwardingHeaders.upstreamRequest(in, "/", "t.example", https, "::1", "http")
                        .headers()
                        .get("host"))
                .isEqualTo("spgo.io");
    }

    @Test
    void chunkedRequestBodyStaysChunkedUpstreamAndContentLengthIsKept() {
        HttpRequest chunked = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/");
        chunked.headers().add("Transfer-Encoding", "chunked");
        HttpRequest sized = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/");
        sized.headers().add("Content-Length", "12");

        assertThat(ForwardingHeaders.upstreamRequest(chunked, "/", "h", PRESERVE, "1.2.3.4", "https")
                        .headers()
                        .getAll("transfer-encoding"))
                .containsExactly("chunked");
        HttpHeaders sizedOut = ForwardingHeaders.upstreamRequest(sized, "/", "h", PRESERVE, "1.2.3.4", "https")
                .headers();
        assertThat(sizedOut.get("content-length")).isEqualTo("12");
        assertThat(sizedOut.contains("transfer-encoding")).isFalse();
    }

    @Test
    void clientResponseLosesHstsAltSvcAndHopByHopHeadersButKeepsCookies() {
        HttpResponse in = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.FOUND);
        in.headers()
                .add("Location", "http://links.shop.test/x")
                .add("Set-Cookie", "a=1")
                .add("Set-Cookie", "b=2")
                .add("Strict-Transport-Security", "max-age=63072000")
                .add("Alt-Svc", "h3=\":443\"")
                .add("Connection", "close")
                .add("Content-Length", "0");

        HttpResponse out = ForwardingHeaders.clientResponse(in, false, true, HttpMethod.GET);

        assertThat(out.status()).isEqualTo(HttpResponseStatus.FOUND);
        assertThat(out.headers().getAll("set-cookie")).containsExactly("a=1", "b=2");
        assertThat(out.headers().get("location")).isEqualTo("http://links.shop.test/x");
        assertThat(out.headers().names()).doesNotContain("Strict-Transport-Security", "Alt-Svc", "Connection");
    }

    @Test
    void bodyWithoutLengthIsChunkedForHttp11ClientsOnly() {
        HttpResponse untilClose = new DefaultHttpResponse(HttpVersion.HTTP_1_0, HttpResponseStatus.OK);

        assertThat(ForwardingHeaders.clientResponse(untilClose, false, true, HttpMethod.GET)
                        .headers()
                        .get("transfer-encoding"))
                .isEqualTo("chunked");
        assertThat(ForwardingHeaders.clientResponse(untilClose, false, false, HttpMethod.GET)
                        .headers()
                        .contains("transfer-encoding"))
                .isFalse();
        assertThat(ForwardingHeaders.clientResponse(untilClose, true, true, HttpMethod.GET)
                        .headers()
                        .contains("transfer-encoding"))
                .isFalse();
        assertThat(ForwardingHeaders.clientResponse(untilClose, false, true, HttpMethod.HEAD)
                        .headers()
                        .contains("transfer-encoding"))
                .isFalse();
        HttpResponse notModified = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.NOT_MODIFIED);
        assertThat(ForwardingHeaders.clientResponse(notModified, false, true, HttpMethod.GET)
                        .headers()
                        .contains("transfer-encoding"))
                .isFalse();
    }

    @Test
    void keepAliveTimeoutIsReadFromTheKeepAliveHeader() {
        assertThat(ForwardingHeaders.keepAliveTimeoutSeconds(
                        new DefaultHttpHeaders().add("Keep-Alive", "max=100, timeout=5")))
                .isEqualTo(5);
        assertThat(ForwardingHeaders.keepAliveTimeoutSeconds(new DefaultHttpHeaders()))
                .isEqualTo(-1);
        assertThat(ForwardingHeaders.keepAliveTimeoutSeconds(
                        new DefaultHttpHeaders().add("Keep-Alive", "timeout=soon")))
                .isEqualTo(-1);
    }
}
