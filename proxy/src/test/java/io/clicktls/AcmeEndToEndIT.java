package io.clicktls;

import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.certificates.IssuanceFailure;
import io.clicktls.certificates.RenewalScheduler;
import io.clicktls.config.ConfigLoader;
import io.clicktls.pki.CertifiedKey;
import io.clicktls.storage.CertificateStore;
import io.clicktls.storage.FileStorage;
import io.clicktls.testing.Curl;
import io.clicktls.testing.Pebble;
import io.clicktls.testing.StandInPlatform;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.math.BigInteger;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole node against a real ACME CA (Pebble, validating against the proxy's own listeners): certificates made
 * during the first handshake, one order for concurrent first handshakes, reuse after a restart, a CA outage, a
 * renewal under a live connection, a renewal due at restart, and the packaged proxy killed with SIGKILL mid-order.
 */
class AcmeEndToEndIT {

    private static final int HTTPS_PORT = freePort();
    private static final int HTTP_PORT = freePort();
    private static final Duration HANDSHAKE_WAIT = Duration.ofSeconds(10);
    private static final Pattern SERIAL = Pattern.compile("\"serial\" : \"([0-9a-f]+)\"");

    private static Pebble pebble;
    private static StandInPlatform platform;

    @TempDir
    Path dir;

    private ClickTlsServer server;

    @BeforeAll
    static void startCa() throws Exception {
        platform = StandInPlatform.start();
        pebble = Pebble.builder().httpPort(HTTP_PORT).tlsPort(HTTPS_PORT).start();
    }

    @AfterAll
    static void stopCa() {
        if (pebble != null) {
            pebble.close();
        }
        if (platform != null) {
            platform.close();
        }
    }

    @AfterEach
    void stopProxy() {
        if (server != null) {
            server.close();
        }
    }

    private ClickTlsServer start(String challenges) throws Exception {
        server = ClickTlsServer.start(ConfigLoader.load(writeConfig(challenges)), null);
        return server;
    }

    private Path writeConfig(String challenges) throws IOException {
        Path file = dir.resolve("clicktls.yml");
        Files.writeString(
                file,
                """
                listen:
                  https: 127.0.0.1:%d
                  http: 127.0.0.1:%d
                  admin: 127.0.0.1:0
                storage:
                  directory: data
                certificates:
                  issuer: acme
                  acme:
                    directory: %s
                    email: ops@example.com
                    trusted_ca: %s
                    challenges: [%s]
                  on_demand:
                    handshake_wait: %ds
                platforms:
                  stand-in:
                    upstream: http://127.0.0.1:%d
                domains:
                  - name: "*.acme.test"
                    platform: stand-in
                """
                        .formatted(
                                HTTPS_PORT,
                                HTTP_PORT,
                                pebble.directoryUrl(),
                                pebble.trustedCaFile(),
                                challenges,
                                HANDSHAKE_WAIT.toSeconds(),
                                platform.port()));
        return file;
    }

    /** Pebble's issuing root, new on every Pebble start. */
    private Path pebbleRoot() throws IOException {
        Path root = dir.resolve("pebble-root.pem");
        if (!Files.exists(root)) {
            Files.writeString(root, pebble.rootCertificatePem());
        }
        return root;
    }

    private Curl.Result get(String name) throws Exception {
        return Curl.https(pebbleRoot(), HTTPS_PORT, name, "/open.gif");
    }

    @Test
    void neverSeenNameGetsAValidChainOnItsFirstRequestThroughTlsAlpn01() throws Exception {
        start("tls-alpn-01");
        String name = newName();

        Curl.Result first = get(name);

        assertThat(first.exitCode()).as(first.stderr()).isZero();
        assertThat(first.status()).isEqualTo(200);
        assertThat(pebble.logText()).contains(name);
        assertThat(server.contexts().challengeContextCount())
                .as("the challenge's TLS context is freed once the challenge is withdrawn")
                .isZero();
    }

    @Test
    void neverSeenNameGetsAValidChainOnItsFirstRequestThroughHttp01() throws Exception {
        start("http-01");
        String name = newName();

        Curl.Result first = get(name);

        assertThat(first.exitCode()).as(first.stderr()).isZero();
        assertThat(first.status()).isEqualTo(200);
    }

    @Test
    void twentyConcurrentFirstHandshakesCauseOneOrder() throws Exception {
        start("tls-alpn-01, http-01");
        String name = newName();
        pebbleRoot();
        int ordersBefore = pebble.orderCount();
        ExecutorService clients = Executors.newFixedThreadPool(20);
        try {
            List<Future<Curl.Result>> results = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                results.add(clients.submit(() -> get(name)));
            }
            for (Future<Curl.Result> result : results) {
                assertThat(result.get().status()).as(result.get().stderr()).isEqualTo(200);
            }
        } finally {
            clients.shutdownNow();
        }

        assertThat(pebble.orderCount() - ordersBefore).isEqualTo(1);
    }

    @Test
    void restartedProxyServesTheSameCertificateWithoutAskingTheCa() throws Exception {
        start("tls-alpn-01, http-01");
        String name = newName();
        assertThat(get(name).status()).isEqualTo(200);
        BigInteger serial =
                server.certificates().cached(name).orElseThrow().leaf().getSerialNumber();
        server.close();
        int ordersBefore = pebble.orderCount();

        start("tls-alpn-01, http-01");

        assertThat(get(name).status()).isEqualTo(200);
        assertThat(server.certificates().cached(name).orElseThrow().leaf().getSerialNumber())
                .isEqualTo(serial);
        assertThat(pebble.orderCount()).isEqualTo(ordersBefore);
    }

    @Test
    void withPebbleDownStoredNamesAreServedAndANewNameFailsAtOnceIsRecordedAndHeldBack() throws Exception {
        start("tls-alpn-01, http-01");
        String stored = newName();
        assertThat(get(stored).status()).isEqualTo(200);
        server.close();
        pebble.stop();
        try {
            start("tls-alpn-01, http-01"); // a restart while the CA is down: only storage can help
            assertThat(get(stored).status())
                    .as("a stored certificate is served without the CA")
                    .isEqualTo(200);

            String fresh = newName();
            long started = System.nanoTime();
            Curl.Result failed = get(fresh);
            long tookMillis = (System.nanoTime() - started) / 1_000_000;

            assertThat(failed.status()).isZero();
            assertThat(tookMillis).as("ms until the handshake failed").isLessThan(HANDSHAKE_WAIT.toMillis());
            IssuanceFailure failure = server.certificates().lastFailure(fresh).orElseThrow();
            assertThat(failure.message()).startsWith("CA unreachable");
            assertThat(failure.failures()).isEqualTo(1);
            assertThat(failure.retryAt()).isAfter(failure.at());

            pebble.start();
            int ordersBefore = pebble.orderCount();
            Curl.Result heldBack = get(fresh);

            assertThat(heldBack.status()).isZero();
            assertThat(pebble.orderCount()).as("orders after the CA came back").isEqualTo(ordersBefore);
            assertThat(server.metrics().scrape())
                    .contains("clicktls_on_demand_denied_total{reason=\"backoff\"} 1.0")
                    .contains("clicktls_tls_handshakes_total{result=\"backoff\"} 1.0");
            assertThat(get(stored).status()).isEqualTo(200);
        } finally {
            pebble.start(); // for the other tests, whatever happened here
        }
    }

    @Test
    void forcedRenewalLeavesAnOpenKeepAliveConnectionOnItsCertificateAndGivesNewOnesTheNewOne() throws Exception {
        start("tls-alpn-01, http-01");
        String name = newName();
        try (SSLSocket open = connect(name)) {
            BigInteger before = servedSerial(open);
            assertThat(request(open, name)).isEqualTo(200);

            CertifiedKey renewed = server.certificates().renew(name).get(30, TimeUnit.SECONDS);

            assertThat(renewed.leaf().getSerialNumber()).isNotEqualTo(before);
            assertThat(request(open, name))
                    .as("the open connection after the renewal")
                    .isEqualTo(200);
            assertThat(request(open, name)).isEqualTo(200);
            assertThat(servedSerial(open)).isEqualTo(before);
            try (SSLSocket fresh = connect(name)) {
                assertThat(servedSerial(fresh)).isEqualTo(renewed.leaf().getSerialNumber());
                assertThat(request(fresh, name)).isEqualTo(200);
            }
        }
    }

    @Test
    void aRestartWithACertificateInsideItsRenewalWindowRenewsItWithoutAnyHandshake() throws Exception {
        start("http-01");
        String name = newName();
        assertThat(get(name).status()).isEqualTo(200);
        CertifiedKey first = server.certificates().cached(name).orElseThrow();
        server.close();
        // Pebble's certificates live five years: move the proxy's clock to where a fifth of the lifetime is left
        Duration lifetime = Duration.between(first.notBefore(), first.notAfter());
        Instant inWindow = first.notAfter().minus(lifetime.dividedBy(5));
        Clock later = Clock.offset(Clock.systemUTC(), Duration.between(Instant.now(), inWindow));

        server = ClickTlsServer.start(
                ConfigLoader.load(writeConfig("http-01")),
                null,
                later,
                new RenewalScheduler.Settings(Duration.ofSeconds(1), Duration.ofSeconds(1), Duration.ofHours(6)));

        String renewedSerial =
                waitForStoredSerial(name, first.leaf().getSerialNumber().toString(16));
        assertThat(renewedSerial).isNotEqualTo(first.leaf().getSerialNumber().toString(16));
        assertThat(server.metrics().scrape()).as("no handshake so far").doesNotContain("clicktls_tls_handshakes_total");
        try (SSLSocket fresh = connect(name)) {
            assertThat(servedSerial(fresh).toString(16)).isEqualTo(renewedSerial);
        }
    }

    @Test
    void killedWithSignalNineMidOrderTheProxyLeavesNoHalfWrittenFileAndTheNextStartFinishesTheJob() throws Exception {
        Path jar = Path.of(System.getenv().getOrDefault("CLICKTLS_REPO_ROOT", ".."), "proxy/target/clicktls.jar");
        Assumptions.assumeTrue(Files.isRegularFile(jar), "needs the packaged jar (mvn package): " + jar);
        Path config = writeConfig("tls-alpn-01, http-01");
        String name = newName();
        pebbleRoot();
        int ordersBefore = pebble.orderCount();

        Process first = runJar(jar, config, dir.resolve("first-run.log"));
        ExecutorService client = Executors.newSingleThreadExecutor();
        try {
            Future<Curl.Result> handshake = client.submit(() -> get(name));
            awaitCondition(Duration.ofSeconds(15), () -> pebble.orderCount() > ordersBefore);
            first.destroyForcibly(); // SIGKILL: no shutdown hook, no finally
            assertThat(first.waitFor(10, TimeUnit.SECONDS)).isTrue();
            assertThat(handshake.get(20, TimeUnit.SECONDS).status()).isZero();
        } finally {
            client.shutdownNow();
            first.destroyForcibly();
        }
        boolean stored = Files.exists(dir.resolve("data/certificates/" + name + "/meta.json"));
        System.out.println("after kill -9 mid-order, the certificate was " + (stored ? "" : "not ") + "stored yet");

        Path data = dir.resolve("data");
        CertificateStore store = new CertificateStore(new FileStorage(data));
        for (String entry : store.names()) {
            if (Files.exists(data.resolve("certificates/" + entry + "/meta.json"))) {
                assertThat(store.load(entry)).as("stored entry %s", entry).isPresent();
            }
        }

        Process second = runJar(jar, config, dir.resolve("second-run.log"));
        try {
            Curl.Result served = get(name);
            assertThat(served.exitCode())
                    .as(served.stderr() + Files.readString(dir.resolve("second-run.log")))
                    .isZero();
            assertThat(served.status()).isEqualTo(200);
            // The sweep runs on the blocking executor at start; give it a moment before looking.
            for (int i = 0; i < 100 && !temporaryFiles(data).isEmpty(); i++) {
                Thread.sleep(50);
            }
            assertThat(temporaryFiles(data))
                    .as("temporary files of the killed process's interrupted writes are swept at start")
                    .isEmpty();
            assertThat(store.load(name)).isPresent();
        } finally {
            second.destroy();
            if (!second.waitFor(10, TimeUnit.SECONDS)) {
                second.destroyForcibly();
            }
        }
    }

    /** Runs the packaged proxy as a child process and waits until it listens. */
    private Process runJar(Path jar, Path config, Path log) throws Exception {
        String java = ProcessHandle.current().info().command().orElse("java");
        Process process = new ProcessBuilder(java, "-jar", jar.toString(), "run", "--config", config.toString())
                .directory(dir.toFile())
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
        try {
            awaitCondition(Duration.ofSeconds(30), () -> {
                if (!process.isAlive()) {
                    throw new AssertionError("the proxy exited:\n" + Files.readString(log));
                }
                return Files.readString(log).contains("clicktls serving https");
            });
        } catch (Exception | Error e) {
            process.destroyForcibly();
            throw e;
        }
        return process;
    }

    private String waitForStoredSerial(String name, String other) throws Exception {
        Path meta = dir.resolve("data/certificates/" + name + "/meta.json");
        String[] serial = new String[1];
        awaitCondition(Duration.ofSeconds(30), () -> {
            Matcher matcher = SERIAL.matcher(Files.readString(meta));
            serial[0] = matcher.find() ? matcher.group(1) : null;
            return serial[0] != null && !serial[0].equals(other);
        });
        return serial[0];
    }

    private SSLSocket connect(String name) throws Exception {
        X509Certificate root;
        try (InputStream pem = Files.newInputStream(pebbleRoot())) {
            root = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(pem);
        }
        KeyStore anchors = KeyStore.getInstance(KeyStore.getDefaultType());
        anchors.load(null, null);
        anchors.setCertificateEntry("pebble", root);
        TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        trust.init(anchors);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, trust.getTrustManagers(), null);
        SSLSocket socket = (SSLSocket) context.getSocketFactory().createSocket("127.0.0.1", HTTPS_PORT);
        SSLParameters parameters = socket.getSSLParameters();
        parameters.setServerNames(List.of(new SNIHostName(name)));
        socket.setSSLParameters(parameters);
        socket.setSoTimeout(15_000);
        socket.startHandshake();
        return socket;
    }

    private static BigInteger servedSerial(SSLSocket socket) throws Exception {
        return ((X509Certificate) socket.getSession().getPeerCertificates()[0]).getSerialNumber();
    }

    /** One HTTP/1.1 keep-alive request on an open connection; returns the status once the body is read. */
    private static int request(SSLSocket socket, String name) throws IOException {
        OutputStream out = socket.getOutputStream();
        out.write(("GET /open.gif HTTP/1.1\r\nHost: " + name + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        out.flush();
        InputStream in = socket.getInputStream();
        String head = readUntilBlankLine(in);
        int status = Integer.parseInt(head.substring(9, 12));
        String lower = head.toLowerCase(Locale.ROOT);
        Matcher length = Pattern.compile("\r\ncontent-length: *(\\d+)").matcher(lower);
        if (length.find()) {
            in.readNBytes(Integer.parseInt(length.group(1)));
        } else if (lower.contains("\r\ntransfer-encoding: chunked")) {
            for (int size; (size = Integer.parseInt(readLine(in).trim(), 16)) > 0; ) {
                in.readNBytes(size + 2);
            }
            readLine(in);
        }
        return status;
    }

    private static String readUntilBlankLine(InputStream in) throws IOException {
        StringBuilder head = new StringBuilder();
        for (String line = readLine(in); !line.isEmpty(); line = readLine(in)) {
            head.append(line).append("\r\n");
        }
        return head.toString();
    }

    private static String readLine(InputStream in) throws IOException {
        StringBuilder line = new StringBuilder();
        for (int b = in.read(); b != '\n'; b = in.read()) {
            if (b < 0) {
                throw new IOException("connection closed mid-response after: " + line);
            }
            if (b != '\r') {
                line.append((char) b);
            }
        }
        return line.toString();
    }

    private static void awaitCondition(Duration limit, Callable<Boolean> condition) throws Exception {
        long deadline = System.nanoTime() + limit.toNanos();
        while (System.nanoTime() < deadline) {
            if (condition.call()) {
                return;
            }
            Thread.sleep(5);
        }
        throw new AssertionError("condition not met within " + limit);
    }

    private static String newName() {
        return "n" + UUID.randomUUID().toString().substring(0, 8) + ".acme.test";
    }

    private static int freePort() {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static List<String> temporaryFiles(Path data) throws IOException {
        try (Stream<Path> files = Files.walk(data)) {
            return files.filter(Files::isRegularFile)
                    .map(path -> data.relativize(path).toString())
                    .filter(path -> path.contains(".tmp-"))
                    .toList();
        }
    }
}
