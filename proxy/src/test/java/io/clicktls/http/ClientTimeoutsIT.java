package io.clicktls.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.testing.Eventually;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Deadlines on client connections, and closing the server while requests are in flight. */
class ClientTimeoutsIT extends ProxyFixture {

    private static final Duration HEADERS = Duration.ofMillis(500);
    private static final Duration IDLE = Duration.ofMillis(1500);

    private ProxyServer shortFused;

    @BeforeEach
    void startShortFusedProxy() {
        shortFused = proxyBuilder()
                .requestHeadersTimeout(HEADERS)
                .keepAliveIdle(IDLE)
                .drainTimeout(Duration.ofSeconds(3))
                .build()
                .start();
    }

    @AfterEach
    void stopShortFusedProxy() {
        shortFused.close();
    }

    @Test
    void silentConnectionIsClosedAfterTheRequestHeadersTimeout() throws Exception {
        try (Socket socket = connect(shortFused.httpPort())) {
            Duration open = timeUntilClosed(socket);
            assertThat(open).isBetween(HEADERS.minusMillis(100), IDLE);
        }
    }

    @Test
    void headersTrickledInSlowlyAreCutOff() throws Exception {
        try (Socket socket = connect(shortFused.httpPort())) {
            OutputStream out = socket.getOutputStream();
            long start = System.nanoTime();
            out.write("GET /ls/click HTTP/1.1\r\nHost: links.shop.test\r\n".getBytes(StandardCharsets.US_ASCII));
            boolean cutOff = false;
            for (int i = 0; i < 20 && !cutOff; i++) {
                Thread.sleep(100); // the point: a client trickling its headers in
                try {
                    out.write(("X-Slow-" + i + ": 1\r\n").getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                } catch (java.io.IOException e) {
                    cutOff = true;
                }
            }
            Duration open = cutOff ? Duration.ofNanos(System.nanoTime() - start) : timeUntilClosed(socket);
            assertThat(open).isLessThan(IDLE);
        }
        assertThat(standIn.requests()).isEmpty();
    }

    @Test
    void idleKeepAliveConnectionIsClosedAfterTheKeepAliveIdleTime() throws Exception {
        certificates.inHand("links.shop.test");
        try (Socket socket = connect(shortFused.httpPort())) {
            socket.getOutputStream()
                    .write("GET /a HTTP/1.1\r\nHost: links.shop.test\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            long start = System.nanoTime();
            String response = readUntilClosed(socket);
            Duration open = Duration.ofNanos(System.nanoTime() - start);

            assertThat(response).startsWith("HTTP/1.1 308 ");
            assertThat(open).isBetween(IDLE.minusMillis(200), IDLE.plusSeconds(2));
        }
    }

    @Test
    void closeLetsARequestInFlightFinishAndThenRefusesConnections() throws Exception {
        upgradeHttp(io.clicktls.config.Upgrade.HttpMode.PROXY);
        int port = shortFused.httpPort();
        CompletableFuture<String> inFlight = CompletableFuture.supplyAsync(() -> {
            try {
                return rawHttp(
                        port, "GET /delay?ms=700 HTTP/1.1\r\nHost: links.shop.test\r\nConnection: close\r\n\r\n");
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        Eventually.holds(Duration.ofSeconds(2), "the request is in flight", () -> shortFused.requestsInFlight() > 0);
        assertThat(shortFused.requestsInFlight()).isEqualTo(1);

        shortFused.close();

        assertThat(inFlight.get()).startsWith("HTTP/1.1 200 ").endsWith("late\n");
        assertThat(shortFused.requestsInFlight()).isZero();
        try (Socket socket = new Socket()) {
            org.assertj.core.api.Assertions.assertThatThrownBy(
                            () -> socket.connect(new InetSocketAddress("127.0.0.1", port), 500))
                    .isInstanceOf(java.net.ConnectException.class);
        }
    }

    private static Socket connect(int port) throws Exception {
        Socket socket = new Socket();
        socket.connect(new InetSocketAddress("127.0.0.1", port), 2000);
        socket.setSoTimeout(5000);
        return socket;
    }

    private static Duration timeUntilClosed(Socket socket) throws Exception {
        long start = System.nanoTime();
        readUntilClosed(socket);
        return Duration.ofNanos(System.nanoTime() - start);
    }

    private static String readUntilClosed(Socket socket) throws Exception {
        InputStream in = socket.getInputStream();
        StringBuilder text = new StringBuilder();
        byte[] buffer = new byte[4096];
        try {
            int n;
            while ((n = in.read(buffer)) >= 0) {
                text.append(new String(buffer, 0, n, StandardCharsets.ISO_8859_1));
            }
        } catch (java.net.SocketException e) {
            // reset counts as closed
        }
        return text.toString();
    }
}
