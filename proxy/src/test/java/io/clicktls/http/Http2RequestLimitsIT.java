package io.clicktls.http;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The HTTP/2 side of the https listener against raw frames: the path goes upstream byte for byte or is refused with
 * 400, an oversized header block gets a 431 on its stream, and a flood of control frames ends the connection with
 * GOAWAY ENHANCE_YOUR_CALM.
 */
class Http2RequestLimitsIT extends ProxyFixture {

    private static final String HOST = "links.shop.test";
    private static final int PROTOCOL_ERROR = 0x1;
    private static final int CANCEL = 0x8;

    @Test
    void bytesAbove0x7fInThePathReachTheUpstreamByteForByte() throws Exception {
        // é in UTF-8 (C3 A9) and a lone 0x80: neither may be re-encoded on the way.
        String path = "/ls/click?q=\u00c3\u00a9&r=\u0080";

        RawHttp2.Outcome outcome = get(RawHttp2.request(HOST, path));

        assertThat(outcome.status()).isEqualTo(302);
        assertThat(hex(upstreamBytes())).contains(hex("GET " + path + " HTTP/1.1\r\n"));
    }

    @ParameterizedTest
    @ValueSource(ints = {0x00, 0x01, 0x09, 0x0A, 0x0D, 0x1B, 0x20, 0x7F})
    void controlByteOrSpaceInThePathIsRefusedWith400AndNothingReachesTheUpstream(int b) throws Exception {
        RawHttp2.Outcome outcome = get(RawHttp2.request(HOST, "/ls/click?upn=a" + (char) b + "b"));

        assertRefused(outcome);
    }

    @ParameterizedTest
    @ValueSource(ints = {0x00, 0x01, 0x0A, 0x0D, 0x7F})
    void controlByteInAHeaderValueIsRefusedAndNothingReachesTheUpstream(int b) throws Exception {
        List<String[]> fields = RawHttp2.request(HOST, "/ls/click");
        fields.add(new String[] {"x-note", "a" + (char) b + "b"});

        RawHttp2.Outcome outcome = get(fields);

        assertRefused(outcome);
    }

    @ParameterizedTest
    @ValueSource(ints = {17_000, 30_000, 60_000})
    void oversizedHeaderBlockGets431OnItsStream(int bytes) throws Exception {
        List<String[]> fields = RawHttp2.request(HOST, "/ls/click");
        fields.add(new String[] {"x-big", "a".repeat(bytes)});

        RawHttp2.Outcome outcome = get(fields);

        assertThat(outcome.goAwayCode()).as("GOAWAY").isNull();
        assertThat(outcome.status()).isEqualTo(431);
        assertThat(upstreamBytes()).isEmpty();
    }

    @ParameterizedTest
    @ValueSource(ints = {RawHttp2.WINDOW_UPDATE, RawHttp2.PING, RawHttp2.SETTINGS, RawHttp2.PRIORITY})
    void controlFrameFloodEndsTheConnectionWithEnhanceYourCalm(int type) throws Exception {
        byte[] payload =
                switch (type) {
                    case RawHttp2.WINDOW_UPDATE -> RawHttp2.windowUpdate(1);
                    case RawHttp2.PING -> new byte[8];
                    case RawHttp2.PRIORITY -> new byte[] {0, 0, 0, 0, 15};
                    default -> new byte[0];
                };
        int stream = type == RawHttp2.PRIORITY ? 3 : 0;

        Integer goAway = goAwayAfterFlood((client, closed) -> {
            for (int i = 0; i < 200_000 && !closed.isDone(); i++) {
                client.frame(type, 0, stream, payload);
                if (i % 100 == 99) {
                    client.flush();
                }
            }
            client.flush();
        });

        assertThat(goAway).isEqualTo(RawHttp2.ENHANCE_YOUR_CALM);
    }

    @Test
    void everyClientThatSendsItsWholeFloodBeforeReadingGetsItsGoAway() throws Exception {
        // 15,000 PING frames (255 KB), far past the limit of 100, written at once before anything is read, as a
        // client writing from one thread does: the proxy ends the connection with most of it still arriving.
        ByteArrayOutputStream frames = new ByteArrayOutputStream();
        for (int i = 0; i < 15_000; i++) {
            frames.write(new byte[] {0, 0, 8, RawHttp2.PING, 0, 0, 0, 0, 0});
            frames.write(new byte[8]);
        }
        byte[] flood = frames.toByteArray();
        for (int i = 0; i < 20; i++) {
            try (RawHttp2 client = RawHttp2.connect(proxy.httpsPort(), HOST)) {
                client.write(flood);

                assertThat(client.readUntilClosed()).as("attempt %d", i).isEqualTo(RawHttp2.ENHANCE_YOUR_CALM);
            }
        }
    }

    @Test
    void resetFloodEndsTheConnectionWithEnhanceYourCalm() throws Exception {
        Integer goAway = goAwayAfterFlood((client, closed) -> {
            // "Rapid reset": open a stream and cancel it at once. The host is not served, so no request of the
            // flood reaches an upstream whatever the proxy does with it.
            for (int stream = 1; stream < 2_000 && !closed.isDone(); stream += 2) {
                client.get(stream, RawHttp2.request("nowhere.other.test", "/"));
                client.frame(RawHttp2.RST_STREAM, 0, stream, RawHttp2.reset(CANCEL));
                client.flush();
            }
        });

        assertThat(goAway).isEqualTo(RawHttp2.ENHANCE_YOUR_CALM);
    }

    /** Frames a flood writes on a connection until it is done or the proxy has closed it ({@code closed} is done). */
    @FunctionalInterface
    private interface Flood {
        void send(RawHttp2 client, CompletableFuture<Integer> closed) throws IOException;
    }

    /**
     * Sends {@code flood} on a new connection and returns the error code of the GOAWAY the proxy ends it with. The
     * flood is still arriving when the proxy ends the connection: the GOAWAY reaches the client only because the proxy
     * lingers (see {@link LingeringClose}) instead of closing into the flood, which would reset the connection and
     * make the client's kernel drop what the client had not read yet.
     */
    private Integer goAwayAfterFlood(Flood flood) throws Exception {
        try (RawHttp2 client = RawHttp2.connect(proxy.httpsPort(), HOST)) {
            CompletableFuture<Integer> goAway = CompletableFuture.supplyAsync(client::readUntilClosed);
            try {
                flood.send(client, goAway);
            } catch (IOException e) {
                // the proxy closed the connection: what the test wants
            }
            return goAway.get(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void aClientWithinTheLimitsKeepsItsConnection() throws Exception {
        try (RawHttp2 client = RawHttp2.connect(proxy.httpsPort(), HOST)) {
            for (int i = 0; i < 50; i++) {
                client.frame(RawHttp2.WINDOW_UPDATE, 0, 0, RawHttp2.windowUpdate(1024));
                client.frame(RawHttp2.PING, 0, 0, new byte[8]);
            }
            client.get(1, RawHttp2.request(HOST, "/ls/click"));

            assertThat(client.readResponse(1).status()).isEqualTo(302);
        }
    }

    /**
     * Refused as malformed: with our 400 page, or (where Netty's HPACK decoder already refuses the field, as RFC 9113
     * section 8.2.1 asks) with RST_STREAM PROTOCOL_ERROR; either way nothing reaches the upstream.
     */
    private static void assertRefused(RawHttp2.Outcome outcome) {
        if (outcome.resetCode() != null) {
            assertThat(outcome.resetCode())
                    .as("RST_STREAM code, %s %s", outcome.status(), outcome.text())
                    .isEqualTo(PROTOCOL_ERROR);
        } else {
            assertThat(outcome.status()).isEqualTo(400);
            assertThat(outcome.text()).contains("Bad request.");
        }
        assertThat(outcome.goAwayCode()).as("GOAWAY").isNull();
        assertThat(upstreamBytes()).isEmpty();
    }

    private static RawHttp2.Outcome get(List<String[]> fields) throws Exception {
        try (RawHttp2 client = RawHttp2.connect(proxy.httpsPort(), HOST)) {
            client.get(1, fields);
            return client.readResponse(1);
        }
    }

    private static String upstreamBytes() {
        return new String(standIn.receivedBytes(), StandardCharsets.ISO_8859_1);
    }

    private static String hex(String latin1) {
        return HexFormat.of().formatHex(latin1.getBytes(StandardCharsets.ISO_8859_1));
    }
}
