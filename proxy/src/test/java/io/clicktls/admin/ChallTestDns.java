package io.clicktls.admin;

import io.clicktls.testing.ChallTestSrvApi;
import io.clicktls.testing.Eventually;
import io.clicktls.testing.LocalServers;
import io.clicktls.testing.Pebble;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Debian's {@code pebble-challtestsrv} as a DNS server for tests: every name answers 127.0.0.1 (no AAAA) until told
 * otherwise through its management API. Skips the test loudly when missing, fails under {@code CI=true}.
 */
public final class ChallTestDns implements AutoCloseable {

    private static final Path BINARY = Path.of("/usr/bin/pebble-challtestsrv");

    private final int dnsPort = LocalServers.freePort();
    private final int managementPort = LocalServers.freePort();
    private final HttpClient client =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private Process process;
    private Path log;

    private ChallTestDns() {}

    /** Starts a server now; the caller closes it. */
    public static ChallTestDns start() throws IOException {
        ChallTestDns server = new ChallTestDns();
        server.launch();
        return server;
    }

    /**
     * A server for a whole test class, registered as {@code @RegisterExtension static final ChallTestDns.PerClass dns =
     * ChallTestDns.perClass();}: started before the class's {@code @BeforeAll} methods, stopped after its last test.
     */
    public static PerClass perClass() {
        return new PerClass();
    }

    /** The server of {@link #perClass()}: a {@link ChallTestDns} that JUnit starts and stops around a test class. */
    public static final class PerClass implements BeforeAllCallback, AfterAllCallback {

        private ChallTestDns server;

        private PerClass() {}

        @Override
        public void beforeAll(ExtensionContext context) throws IOException {
            server = start();
        }

        @Override
        public void afterAll(ExtensionContext context) {
            if (server != null) {
                server.close();
                server = null;
            }
        }

        /** The running server; fails outside the class's tests. */
        public ChallTestDns server() {
            if (server == null) {
                throw new IllegalStateException("pebble-challtestsrv runs only while the test class runs");
            }
            return server;
        }
    }

    private void launch() throws IOException {
        if (!Files.isExecutable(BINARY)) {
            String missing = BINARY + " not installed: apt-get install -y pebble";
            if ("true".equalsIgnoreCase(System.getenv("CI"))) {
                Assertions.fail("!!! " + missing + " (CI=true: this test must run) !!!");
            }
            System.err.println("!!! " + missing + ": skipping this test !!!");
            Assumptions.abort(missing);
        }
        log = Files.createTempFile("challtestsrv", ".log");
        process = Pebble.dnsOnlyChallTestSrv(dnsPort, managementPort)
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
        awaitReady();
    }

    public InetSocketAddress address() {
        return new InetSocketAddress("127.0.0.1", dnsPort);
    }

    /** {@code 127.0.0.1:PORT}, as {@code doctor --dns-server} takes it. */
    public String hostPort() {
        return "127.0.0.1:" + dnsPort;
    }

    public void addA(String host, String... addresses) {
        post("/add-a", "{\"host\":\"" + host + "\",\"addresses\":" + jsonList(addresses) + "}");
    }

    public void addAaaa(String host, String... addresses) {
        post("/add-aaaa", "{\"host\":\"" + host + "\",\"addresses\":" + jsonList(addresses) + "}");
    }

    public void setCname(String host, String target) {
        post("/set-cname", "{\"host\":\"" + host + "\",\"target\":\"" + target + "\"}");
    }

    /** @param policies pairs of tag and value, such as {@code "issue", "letsencrypt.org"} */
    public void addCaa(String host, String... policies) {
        StringBuilder json = new StringBuilder("[");
        for (int i = 0; i < policies.length; i += 2) {
            json.append(i == 0 ? "" : ",")
                    .append("{\"tag\":\"")
                    .append(policies[i])
                    .append("\",\"value\":\"")
                    .append(policies[i + 1])
                    .append("\"}");
        }
        post("/add-caa", "{\"host\":\"" + host + "\",\"policies\":" + json + "]}");
    }

    /** Every name without its own A record answers {@code ip}. */
    public void setDefaultIpv4(String ip) {
        post("/set-default-ipv4", "{\"ip\":\"" + ip + "\"}");
    }

    /** The server answers SERVFAIL for {@code host}. */
    public void setServfail(String host) {
        post("/set-servfail", "{\"host\":\"" + host + "\"}");
    }

    private void post(String path, String json) {
        ChallTestSrvApi.post(managementPort, path, json);
    }

    private void awaitReady() {
        Eventually.untilAnswers(
                process,
                "pebble-challtestsrv",
                Duration.ofSeconds(10),
                () -> {
                    client.send(
                            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + managementPort + "/"))
                                    .timeout(Duration.ofSeconds(1))
                                    .build(),
                            HttpResponse.BodyHandlers.discarding());
                    return answersDns();
                },
                () -> Files.readString(log));
    }

    /** Sends one A query for {@code ready.test} and waits briefly for any answer. */
    private boolean answersDns() {
        byte[] query = {
            0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 5, 'r', 'e', 'a', 'd', 'y', 4, 't', 'e', 's', 't', 0, 0, 1,
            0, 1
        };
        try (DatagramSocket socket = new DatagramSocket()) {
            socket.setSoTimeout(200);
            socket.send(new DatagramPacket(query, query.length, InetAddress.getLoopbackAddress(), dnsPort));
            socket.receive(new DatagramPacket(new byte[512], 512));
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static String jsonList(String... values) {
        StringBuilder json = new StringBuilder("[");
        for (int i = 0; i < values.length; i++) {
            json.append(i == 0 ? "" : ",").append('"').append(values[i]).append('"');
        }
        return json.append(']').toString();
    }

    @Override
    public void close() {
        LocalServers.stop(process);
        try {
            Files.deleteIfExists(log);
        } catch (IOException ignored) {
            // a temp file left behind is harmless
        }
    }
}
