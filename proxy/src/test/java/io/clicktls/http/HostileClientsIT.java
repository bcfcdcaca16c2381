package io.clicktls.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.testing.ClientTls;
import io.clicktls.testing.Curl;
import io.clicktls.testing.Eventually;
import io.clicktls.testing.RunningNode;
import io.clicktls.testing.StandInPlatform;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The packaged proxy as a child process under a real descriptor limit ({@code ulimit -n}), against floods of
 * connections and of HTTP/2 protocol errors from the test: it keeps serving {@code /healthz} and other clients, stops
 * accepting at its connection limit instead of running out of descriptors, and logs a flood as a line or two, not as
 * a stack trace per connection.
 */
class HostileClientsIT {

    private static final Pattern SERVING =
            Pattern.compile("clicktls serving https on (\\d+), http on (\\d+), admin on (\\d+)");
    private static final String HOST = "links.example.test";
    private static final int PROTOCOL_ERROR = 0x1;

    @TempDir
    Path dir;

    private StandInPlatform platform;
    private Process node;
    private Path log;
    private int httpsPort;
    private int adminPort;
    private final List<Socket> flood = new ArrayList<>();
    private final HttpClient admin =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build();

    @BeforeEach
    void standIn() {
        platform = StandInPlatform.start();
    }

    @AfterEach
    void stop() throws Exception {
        closeFlood();
        if (node != null) {
            node.destroy();
            if (!node.waitFor(10, TimeUnit.SECONDS)) {
                node.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        }
        platform.close();
    }

    @Test
    void floodUpToTheDescriptorLimitStopsAtTheConnectionCapWhileHealthzAndLaterClicksWork() throws Exception {
        start(400, ""); // derived cap: (400 - 256) / 2 = 72
        assertThat(click().status()).as("before the flood").isEqualTo(302);

        for (int i = 0; i < 600; i++) {
            flood.add(connect(InetAddress.getLoopbackAddress(), httpsPort));
        }
        Thread.sleep(2500); // long enough for Netty's once-a-second accept retries to log, on a build without the cap

        assertThat(healthz()).as("/healthz during the flood" + logTail()).isEqualTo(200);
        String metrics = scrape();
        assertThat(metrics)
                .as("the cap derived from ulimit -n 400")
                .contains("clicktls_connections_limit 72.0")
                .contains("clicktls_connections{listener=\"https\"} 72.0");
        assertThat(node.isAlive()).isTrue();

        assertServesOnceTheFloodEnds();
        assertThat(node.isAlive()).isTrue();
        String written = Files.readString(log);
        assertThat(stackTraceLines(written))
                .as("stack trace lines in the log:" + logTail())
                .isZero();
        assertThat(written).contains("limits.max_connections reached");
    }

    @Test
    void runningOutOfDescriptorsAnywayLogsOneLineWithoutAStackTraceAndTheNodeRecovers() throws Exception {
        start(300, "limits:\n  max_connections: 5000\n"); // a cap set above what the descriptors allow
        assertThat(click().status()).isEqualTo(302);

        for (int i = 0; i < 400; i++) {
            flood.add(connect(InetAddress.getLoopbackAddress(), httpsPort));
        }
        Thread.sleep(2500); // Netty retries a failed accept once a second, with a stack trace each time

        assertServesOnceTheFloodEnds();
        assertThat(scrape()).containsPattern("clicktls_accept_errors_total\\{reason=\"out_of_descriptors\"} [1-9]");
        String written = Files.readString(log);
        assertThat(stackTraceLines(written))
                .as("stack trace lines in the log:" + logTail())
                .isZero();
        assertThat(written.lines().filter(line -> line.contains("Too many open files")))
                .as("one line per 10 s:" + logTail())
                .hasSize(1);
    }

    @Test
    void oneClientOverItsShareIsClosedAtOnceWhileAnotherClientIsServed() throws Exception {
        start(4096, "limits:\n  max_connections_per_client: 20\n");

        List<Socket> sockets = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            Socket socket = connect(InetAddress.getLoopbackAddress(), httpsPort);
            sockets.add(socket);
            flood.add(socket);
        }
        int closedAtOnce = 0;
        for (Socket socket : sockets) {
            socket.setSoTimeout(300);
            try {
                if (socket.getInputStream().read() == -1) {
                    closedAtOnce++;
                }
            } catch (SocketTimeoutException stillOpen) {
                // held: within the client's share
            } catch (IOException reset) {
                closedAtOnce++;
            }
        }
        assertThat(closedAtOnce)
                .as("connections over max_connections_per_client")
                .isEqualTo(30);

        Curl.Result other = click("--interface", "127.0.0.2");
        assertThat(other.status())
                .as("another client during the flood: " + other.stderr())
                .isEqualTo(302);
        assertThat(scrape())
                .contains("clicktls_connections_refused_total{reason=\"max_connections_per_client\"} 30.0")
                .contains("clicktls_connections_refused_total{reason=\"max_connections\"} 0.0");
    }

    @Test
    void http2ProtocolErrorsFromManyConnectionsAreCountedAndLoggedAsOneLineWithoutAStackTrace() throws Exception {
        start(4096, "");
        assertThat(click().status()).isEqualTo(302); // issues the certificate first
        long before = Files.size(log);

        // 300 HTTP/2 connections that each commit a connection error: a WINDOW_UPDATE of 0 on the connection
        // (RFC 9113 6.9: PROTOCOL_ERROR). An oversized header block no longer does: up to 64 KB it gets 431 on its
        // stream, and clients do not send more than the SETTINGS_MAX_HEADER_LIST_SIZE the proxy advertises.
        int protocolErrors = 0;
        SSLContext trusting = ClientTls.trusting(ClientTls.readPem(dir.resolve("data/ca/root.pem")));
        for (int i = 0; i < 300; i++) {
            SSLSocket socket = (SSLSocket) trusting.getSocketFactory().createSocket();
            socket.connect(new InetSocketAddress("127.0.0.1", httpsPort), 2000);
            SSLParameters parameters = socket.getSSLParameters();
            parameters.setServerNames(List.of(new SNIHostName(HOST)));
            socket.setSSLParameters(parameters);
            try (RawHttp2 client = RawHttp2.connect(socket)) {
                client.frame(RawHttp2.WINDOW_UPDATE, 0, 0, RawHttp2.windowUpdate(0));
                client.flush();
                Integer code = client.readUntilClosed();
                if (code != null && code == PROTOCOL_ERROR) {
                    protocolErrors++;
                }
            }
        }
        assertThat(protocolErrors)
                .as("connections ended with GOAWAY PROTOCOL_ERROR")
                .isEqualTo(300);

        String metrics = scrape();
        Matcher counted = Pattern.compile("clicktls_client_errors_total\\{kind=\"http2\"} (\\d+)")
                .matcher(metrics);
        assertThat(counted.find()).as(metrics).isTrue();
        assertThat(Integer.parseInt(counted.group(1)))
                .as("HTTP/2 errors counted")
                .isGreaterThanOrEqualTo(300);
        String written = Files.readString(log).substring((int) before);
        assertThat(stackTraceLines(written))
                .as("stack trace lines:\n" + cut(written))
                .isZero();
        assertThat(written.lines().filter(line -> line.contains("Http2Exception")))
                .as("one line per 10 s for the flood:\n" + cut(written))
                .hasSizeBetween(1, 2);
        assertThat(click().status()).as("still serving").isEqualTo(302);
    }

    // ---- the node

    private void start(int descriptorLimit, String extraYaml) throws Exception {
        Path jar = Path.of(System.getenv().getOrDefault("CLICKTLS_REPO_ROOT", ".."), "proxy/target/clicktls.jar");
        Assumptions.assumeTrue(Files.isRegularFile(jar), "needs the packaged jar (mvn package): " + jar);
        Path config = RunningNode.config(dir)
                .platform("stand-in", platform.port())
                .domains("stand-in", HOST)
                .yaml(extraYaml)
                .write();
        String java = ProcessHandle.current().info().command().orElse("java");
        log = dir.resolve("node.log");
        node = new ProcessBuilder(
                        "bash",
                        "-c",
                        "ulimit -n " + descriptorLimit + " && exec \"$0\" -jar \"$1\" run --config \"$2\"",
                        java,
                        jar.toAbsolutePath().toString(),
                        config.toString())
                .directory(dir.toFile())
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
        Eventually.untilAnswers(
                node,
                "the node",
                Duration.ofSeconds(30),
                () -> {
                    String written = Files.readString(log);
                    Matcher serving = SERVING.matcher(written);
                    // the index of stored certificates is read 2 s after start: a flood then would fail it (once)
                    if (!serving.find() || !written.contains("indexed 0 stored certificates")) {
                        return false;
                    }
                    httpsPort = Integer.parseInt(serving.group(1));
                    adminPort = Integer.parseInt(serving.group(3));
                    return true;
                },
                () -> Files.readString(log));
    }

    /** Ends the flood; then a click and {@code /healthz} must work again. */
    private void assertServesOnceTheFloodEnds() throws Exception {
        closeFlood();
        Curl.Result after = click();
        assertThat(after.status())
                .as("a click once the flood ended: " + after.stderr() + logTail())
                .isEqualTo(302);
        assertThat(healthz()).isEqualTo(200);
    }

    private Curl.Result click(String... options) throws Exception {
        return Curl.https(dir.resolve("data/ca/root.pem"), httpsPort, HOST, "/ls/click?upn=hostile", options);
    }

    private int healthz() {
        try {
            return admin.send(
                            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + adminPort + "/healthz"))
                                    .timeout(Duration.ofSeconds(5))
                                    .build(),
                            HttpResponse.BodyHandlers.discarding())
                    .statusCode();
        } catch (IOException | InterruptedException e) {
            return 0; // no answer
        }
    }

    private String scrape() throws Exception {
        HttpResponse<String> response = admin.send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + adminPort + "/metrics"))
                        .timeout(Duration.ofSeconds(5))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).isEqualTo(200);
        return response.body();
    }

    private static Socket connect(InetAddress address, int port) throws IOException {
        Socket socket = new Socket();
        socket.connect(new InetSocketAddress(address, port), 5000);
        return socket;
    }

    private void closeFlood() {
        for (Socket socket : flood) {
            try {
                socket.close();
            } catch (IOException e) {
                // closing anyway
            }
        }
        flood.clear();
    }

    private static long stackTraceLines(String log) {
        return log.lines().filter(line -> line.startsWith("\tat ")).count();
    }

    private String logTail() throws IOException {
        return "\n--- node log ---\n" + cut(Files.readString(log));
    }

    private static String cut(String text) {
        return text.length() > 6000 ? "…" + text.substring(text.length() - 6000) : text;
    }
}
