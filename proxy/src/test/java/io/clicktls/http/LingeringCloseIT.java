package io.clicktls.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringServerSocketChannel;
import io.netty.channel.uring.IoUringSocketChannel;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Connections the proxy ends on its own while the client is still sending: the client reads the error page every
 * time instead of a reset (see {@link LingeringClose}), and a client that never stops sending is still cut off.
 */
class LingeringCloseIT extends ProxyFixture {

    private static final String HOST = "links.shop.test";
    /** A request whose header block never ends: past 16 KB of it the proxy answers 431 and ends the connection. */
    private static final byte[] ENDLESS_HEADER_START =
            ("GET /ls/click HTTP/1.1\r\nHost: " + HOST + "\r\nX-Filler: ").getBytes(StandardCharsets.US_ASCII);

    @Test
    void aClientThatSendsItsWholeRequestBeforeReadingGetsThe431EveryTime() throws Exception {
        assertEveryOversizedRequestGets431(proxy.httpsPort(), 20);
    }

    @ParameterizedTest
    @ValueSource(strings = {"epoll", "io_uring"})
    void onTheNativeTransportsTooAClientSendingItsWholeRequestGetsThe431(String transport) throws Exception {
        boolean epoll = transport.equals("epoll");
        assumeTrue(epoll ? Epoll.isAvailable() : IoUring.isAvailable(), transport + " is not available here");
        EventLoopGroup loops =
                new MultiThreadIoEventLoopGroup(1, epoll ? EpollIoHandler.newFactory() : IoUringIoHandler.newFactory());
        ProxyServer own = proxyBuilder()
                .eventLoops(loops, loops)
                .channelTypes(
                        epoll ? EpollServerSocketChannel.class : IoUringServerSocketChannel.class,
                        epoll ? EpollSocketChannel.class : IoUringSocketChannel.class)
                .build()
                .start();
        try {
            assertEveryOversizedRequestGets431(own.httpsPort(), 5);
        } finally {
            own.close();
            loops.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    /**
     * Sends a request with a 256 KB header {@code times}, each on a new connection, all of it before reading, and
     * expects the 431 each time. Over TLS: the JDK's TLS socket, as many clients, gives the connection up when a
     * write fails on a reset, so without lingering the answer is lost.
     */
    private static void assertEveryOversizedRequestGets431(int port, int times) throws Exception {
        byte[] request = oversizedRequest(256 * 1024);
        for (int i = 0; i < times; i++) {
            try (Socket socket = openTls(port, HOST)) {
                socket.setSoTimeout(20_000);
                socket.getOutputStream().write(request);
                socket.getOutputStream().flush();

                String received = new String(socket.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);

                assertThat(received).as("attempt %d", i).startsWith("HTTP/1.1 431 ");
            }
        }
    }

    @Test
    void jdkHttpClientUploadingABodyGetsThe421EveryTime() throws Exception {
        // The JDK client sends the absolute form to a proxy; a host not served is refused before its body is read.
        HttpClient client = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .proxy(ProxySelector.of(new InetSocketAddress("127.0.0.1", proxy.httpPort())))
                .build();
        byte[] body = new byte[512 * 1024];
        for (int i = 0; i < 20; i++) {
            HttpResponse<String> response = client.send(
                    HttpRequest.newBuilder(URI.create("http://nowhere.other.test/upload"))
                            .POST(HttpRequest.BodyPublishers.ofByteArray(body))
                            .build(),
                    HttpResponse.BodyHandlers.ofString());

            assertThat(response.statusCode()).as("attempt %d", i).isEqualTo(421);
        }
    }

    @Test
    @Timeout(60) // without a bound, the connection's idle timeout (60 s) would end it
    void aClientThatNeverStopsSendingIsCutOffWithinTheLingerTime() throws Exception {
        try (Socket socket = connect()) {
            Ending ending = sendUntilCutOff(socket);

            assertThat(ending.received()).startsWith("HTTP/1.1 431 ");
            assertThat(ending.sent())
                    .as("bytes sent, more than the proxy reads while it lingers")
                    .isGreaterThan(ProxySettings.CLOSE_LINGER_BYTES);
            // The linger time plus room for a loaded machine, well below any other timeout of the connection.
            assertThat(ending.afterAnswer())
                    .as("from the answer to the connection's end")
                    .isLessThan(ProxySettings.CLOSE_LINGER_TIME.plusSeconds(5));
        }
    }

    @Test
    void aLingeringConnectionStillCountsAgainstTheConnectionLimits() throws Exception {
        ProxyServer own = proxyBuilder().build().start();
        try (Socket socket = openTls(own.httpsPort(), HOST)) {
            socket.setSoTimeout(20_000);
            socket.getOutputStream().write(oversizedRequest(64 * 1024));
            socket.getOutputStream().flush();

            // The answer, then the proxy's end of the connection; the client neither closes nor sends any more.
            String received = new String(socket.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);

            assertThat(received).startsWith("HTTP/1.1 431 ");
            assertThat(own.clientConnections())
                    .as("connections counted while it lingers")
                    .isEqualTo(1);
        } finally {
            own.close();
        }
    }

    @Test
    void stoppingTheServerClosesItsConnectionsWithoutLingering() throws Exception {
        ProxyServer own = proxyBuilder().build().start();
        try (Socket socket = openTls(own.httpsPort(), HOST)) {
            socket.setSoTimeout(20_000);
            socket.getOutputStream()
                    .write(("GET /ls/click HTTP/1.1\r\nHost: " + HOST + "\r\n\r\n")
                            .getBytes(StandardCharsets.US_ASCII));
            socket.getOutputStream().flush();
            byte[] head = new byte[12];
            new DataInputStream(socket.getInputStream()).readFully(head);

            // The client keeps its connection and would never end its side: a lingering close would wait it out.
            long stopping = System.nanoTime();
            own.close();
            Duration untilStopped = Duration.ofNanos(System.nanoTime() - stopping);

            assertThat(new String(head, StandardCharsets.US_ASCII)).isEqualTo("HTTP/1.1 302");
            assertThat(untilStopped).as("stopping").isLessThan(ProxySettings.CLOSE_LINGER_TIME);
        } finally {
            own.close();
        }
    }

    /** How a connection flooded by {@link #sendUntilCutOff} ended. */
    private record Ending(String received, long sent, Duration afterAnswer) {}

    /**
     * Sends an endless header, reading on a thread of its own, until the proxy no longer takes what is sent: what came
     * back, how much was sent, and how long after the first byte of the answer the sending failed. The client never
     * closes or shuts down its side.
     */
    private static Ending sendUntilCutOff(Socket socket) throws Exception {
        socket.setSoTimeout(20_000);
        InputStream in = socket.getInputStream();
        long[] answeredAt = {0};
        CompletableFuture<String> received = CompletableFuture.supplyAsync(() -> {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            byte[] buffer = new byte[8192];
            try {
                int n;
                while ((n = in.read(buffer)) >= 0) {
                    if (answeredAt[0] == 0) {
                        answeredAt[0] = System.nanoTime();
                    }
                    bytes.write(buffer, 0, n);
                }
            } catch (IOException e) {
                bytes.writeBytes(("\n<<" + e + ">>").getBytes(StandardCharsets.US_ASCII));
            }
            return bytes.toString(StandardCharsets.ISO_8859_1);
        });
        OutputStream out = socket.getOutputStream();
        byte[] filler = "a".repeat(4096).getBytes(StandardCharsets.US_ASCII);
        long sent = 0;
        try {
            out.write(ENDLESS_HEADER_START);
            while (true) {
                out.write(filler);
                out.flush();
                sent += filler.length;
            }
        } catch (IOException e) {
            // the proxy ended the connection: what the test waits for
        }
        long endedAt = System.nanoTime();
        String answer = received.get(30, TimeUnit.SECONDS);
        Duration afterAnswer = answeredAt[0] == 0 ? Duration.ZERO : Duration.ofNanos(endedAt - answeredAt[0]);
        return new Ending(answer, sent, afterAnswer);
    }

    /** A request whose one header takes {@code bytes}: far past the 16 KB the proxy reads before it answers 431. */
    private static byte[] oversizedRequest(int bytes) {
        return ("GET /ls/click HTTP/1.1\r\nHost: " + HOST + "\r\nX-Filler: " + "a".repeat(bytes) + "\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII);
    }

    private static Socket connect() throws Exception {
        return openTls(proxy.httpsPort(), HOST);
    }
}
