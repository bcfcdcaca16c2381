package io.clicktls.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.config.Upgrade;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The HTTP/1.1 request parser of both listeners against raw sockets: control bytes anywhere in the request line or
 * the headers get a 400 with nothing sent upstream, and bytes above 0x7F in the target reach the platform exactly as
 * they were sent. The stand-in's raw bytes are compared, not its decoded view of them.
 */
class RequestParsingIT extends ProxyFixture {

    /** The listeners, and for plain http both of what it can do with a request: redirect or forward. */
    enum Listener {
        HTTPS,
        HTTP_REDIRECT,
        HTTP_PROXY;

        /** Sends {@code request} (ISO-8859-1: one char per byte) and returns everything read until close. */
        String send(String request) throws Exception {
            return this == HTTPS ? rawHttps("links.shop.test", request) : rawHttp(request);
        }

        void prepare() {
            switch (this) {
                case HTTP_REDIRECT -> certificates.inHand("links.shop.test");
                case HTTP_PROXY -> upgradeHttp(Upgrade.HttpMode.PROXY);
                default -> {}
            }
        }
    }

    /** Each value on each listener: the cases of a test that runs on both. */
    private static Stream<Arguments> onEachListener(Object... values) {
        return Arrays.stream(Listener.values())
                .flatMap(listener -> Arrays.stream(values).map(value -> Arguments.of(listener, value)));
    }

    static Stream<Arguments> controlBytesOnEachListener() {
        return onEachListener(0x00, 0x01, 0x08, 0x0E, 0x1B, 0x1F, 0x7F);
    }

    @ParameterizedTest(name = "{0} 0x{1}")
    @MethodSource("controlBytesOnEachListener")
    void controlByteInTheTargetIsRefusedWith400AndNothingReachesTheUpstream(Listener listener, int controlByte)
            throws Exception {
        listener.prepare();
        String target = "/ls/click?upn=a" + (char) controlByte + "b";

        String response = listener.send(request("GET", target, ""));

        assertRefused(response);
    }

    @ParameterizedTest
    @EnumSource(Listener.class)
    void controlByteInTheMethodIsRefusedWith400(Listener listener) throws Exception {
        listener.prepare();

        String response = listener.send(request("G\u0001T", "/ls/click", ""));

        assertRefused(response);
    }

    @ParameterizedTest
    @EnumSource(Listener.class)
    void controlByteInAHeaderIsRefusedWith400(Listener listener) throws Exception {
        listener.prepare();

        assertRefused(listener.send(request("GET", "/ls/click", "X-Note: a\u0001b\r\n")));
        assertRefused(listener.send(request("GET", "/ls/click", "X-No\u001bte: ab\r\n")));
        assertRefused(listener.send(request("GET", "/ls/click", "X-Note: a\u007fb\r\n")));
    }

    static Stream<Arguments> requestLinesWithOtherWhitespaceOnEachListener() {
        return onEachListener(
                "GET /ls/click\t HTTP/1.1",
                "GET /ls/click\tHTTP/1.1",
                "GET\t/ls/click HTTP/1.1",
                "GET  /ls/click HTTP/1.1",
                "GET /ls/click  HTTP/1.1",
                "GET /ls/click\u000b HTTP/1.1",
                "GET /ls/click\f HTTP/1.1",
                "GET /ls/click\r HTTP/1.1");
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("requestLinesWithOtherWhitespaceOnEachListener")
    void requestLineWithOtherThanOneSpaceAroundTheTargetIsRefusedWith400(Listener listener, String line)
            throws Exception {
        listener.prepare();

        String response = listener.send(line + "\r\nHost: links.shop.test\r\nConnection: close\r\n\r\n");

        assertRefused(response);
    }

    @Test
    void tabInAHeaderValueIsAllowedAndForwarded() throws Exception {
        String response = Listener.HTTPS.send(request("GET", "/ls/click", "X-Note: a\tb\r\n"));

        assertThat(response).startsWith("HTTP/1.1 302 ");
        assertThat(upstreamBytes()).contains("\r\nX-Note: a\tb\r\n");
    }

    @ParameterizedTest
    @EnumSource(
            value = Listener.class,
            names = {"HTTPS", "HTTP_PROXY"})
    void bytesAbove0x7fInTheTargetReachTheUpstreamByteForByte(Listener listener) throws Exception {
        listener.prepare();
        // A lone 0x80, 0xFF, and é in UTF-8 (C3 A9): none of them may be re-encoded on the way.
        String target = "/ls/click?q=\u0080\u00ff&r=\u00c3\u00a9";

        String response = listener.send(request("GET", target, ""));

        assertThat(response).startsWith("HTTP/1.1 302 ");
        assertThat(hex(upstreamBytes())).contains(hex("GET " + target + " HTTP/1.1\r\n"));
    }

    @ParameterizedTest
    @EnumSource(
            value = Listener.class,
            names = {"HTTPS", "HTTP_PROXY"})
    void hostIsRoutedWhateverItsCaseTrailingDotAndPortAndSentUpstreamAsReceived(Listener listener) throws Exception {
        listener.prepare();
        int port = listener == Listener.HTTPS ? proxy.httpsPort() : proxy.httpPort();
        String host = "LINKS.Shop.Test.:" + port;

        String response = listener.send("GET /ls/click HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n");

        assertThat(response).startsWith("HTTP/1.1 302 ");
        assertThat(upstreamBytes()).contains("\r\nhost: " + host + "\r\n");
        assertThat(upstreamBytes()).contains("\r\nx-forwarded-host: " + host + "\r\n");
    }

    static String request(String method, String target, String headers) {
        return method + " " + target + " HTTP/1.1\r\nHost: links.shop.test\r\n" + headers + "Connection: close\r\n\r\n";
    }

    static void assertRefused(String response) {
        assertThat(response).startsWith("HTTP/1.1 400 ");
        assertThat(response).contains("Bad request.");
        assertThat(response).doesNotContain("<<timeout");
        assertThat(upstreamBytes()).isEmpty();
        assertThat(standIn.connections()).isZero();
    }

    /** What the stand-in platform received, one char per byte. */
    static String upstreamBytes() {
        return new String(standIn.receivedBytes(), StandardCharsets.ISO_8859_1);
    }

    private static String hex(String latin1) {
        return HexFormat.of().formatHex(latin1.getBytes(StandardCharsets.ISO_8859_1));
    }
}
