package io.clicktls;

import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.certificates.IssuanceFailure;
import io.clicktls.certificates.RenewalScheduler;
import io.clicktls.pki.CertifiedKey;
import io.clicktls.storage.CertificateStore;
import io.clicktls.storage.FileStorage;
import io.clicktls.testing.Curl;
import io.clicktls.testing.Eventually;
import io.clicktls.testing.LocalServers;
import io.clicktls.testing.Pebble;
import io.clicktls.testing.PerClass;
import io.clicktls.testing.RunningNode;
import io.clicktls.testing.StandInPlatform;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The whole node against a real ACME CA (Pebble, validating against the proxy's own listeners): certificates made
 * during the first handshake, one order for concurrent first handshakes, reuse after a restart, a CA outage, a
 * renewal under a live connection, a renewal due at restart, and the packaged proxy killed with SIGKILL mid-order.
 */
class AcmeEndToEndIT {

    private static final int HTTPS_PORT = LocalServers.freePort();
    private static final int HTTP_PORT = LocalServers.freePort();
    private static final Duration HANDSHAKE_WAIT = Duration.ofSeconds(10);
    private static final Pattern SERIAL = Pattern.compile("\"serial\" : \"([0-9a-f]+)\"");

    @RegisterExtension
    static final PerClass<StandInPlatform> platform = PerClass.of(StandInPlatform::start);

    @RegisterExtension
    static final PerClass<Pebble> pebble =
            Pebble.builder().httpPort(HTTP_PORT).tlsPort(HTTPS_PORT).perClass();

    @TempDir
    Path dir;

    private RunningNode node;

    @AfterEach
    void stopProxy() {
        if (node != null) {
            node.close();
        }
    }

    private void start(String challenges) throws Exception {
        node = RunningNode.start(config(challenges)).trust(pebbleRoot());
    }

    private RunningNode.Config config(String challenges) {
        return RunningNode.config(dir)
                .listeners(HTTPS_PORT, HTTP_PORT)
                .acme(pebble.get().directoryUrl(), pebble.get().trustedCaFile(), challenges)
                .set("certificates.acme.email", "ops@example.com")
                .set("certificates.on_demand.handshake_wait", HANDSHAKE_WAIT.toSeconds() + "s")
                .platform("stand-in", platform.get().port())
                .domains("stand-in", "*.acme.test");
    }

    /** Pebble's issuing root, new on every Pebble start. */
    private Path pebbleRoot() throws IOException {
        Path root = dir.resolve("pebble-root.pem");
        if (!Files.exists(root)) {
            Files.writeString(root, pebble.get().rootCertificatePem());
        }
        return root;
    }

    private Curl.Result get(String name) throws Exception {
        return Curl.https(pebbleRoot(), HTTPS_PORT, name, "/open.gif");
    }

    @ParameterizedTest
    @ValueSource(strings = {"tls-alpn-01", "http-01"})
    void neverSeenNameGetsAValidChainOnItsFirstRequestThroughEitherChallenge(String challenge) throws Exception {
        start(challenge);
        String name = newName();

        Curl.Result first = get(name);

        assertThat(first.exitCode()).as(first.stderr()).isZero();
        assertThat(first.status()).isEqualTo(200);
        assertThat(pebble.get().logText()).contains(name);
        assertThat(node.server().contexts().challengeContextCount())
                .as("the challenge's TLS context is freed once the challenge is withdrawn")
                .isZero();
    }

    @Test
    void twentyConcurrentFirstHandshakesCauseOneOrder() throws Exception {
        start("tls-alpn-01, http-01");
        String name = newName();
        pebbleRoot();
        int ordersBefore = pebble.get().orderCount();
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

        assertThat(pebble.get().orderCount() - ordersBefore).isEqualTo(1);
    }

    @Test
    void restartedProxyServesTheSameCertificateWithoutAskingTheCa() throws Exception {
        start("tls-alpn-01, http-01");
        String name = newName();
        assertThat(get(name).status()).isEqualTo(200);
        BigInteger serial =
                node.server().certificates().cached(name).orElseThrow().leaf().getSerialNumber();
        node.stop();
        int ordersBefore = pebble.get().orderCount();

        node.restart();

        assertThat(get(name).status()).isEqualTo(200);
        assertThat(node.server()
                        .certificates()
                        .cached(name)
                        .orElseThrow()
                        .leaf()
                        .getSerialNumber())
                .isEqualTo(serial);
        assertThat(pebble.get().orderCount()).isEqualTo(ordersBefore);
    }

    @Test
    void withPebbleDownStoredNamesAreServedAndANewNameFailsAtOnceIsRecordedAndHeldBack() throws Exception {
        start("tls-alpn-01, http-01");
        String stored = newName();
        assertThat(get(stored).status()).isEqualTo(200);
        node.stop();
        pebble.get().stop();
        try {
            node.restart(); // a restart while the CA is down: only storage can help
            assertThat(get(stored).status())
                    .as("a stored certificate is served without the CA")
                    .isEqualTo(200);

            String fresh = newName();
            long started = System.nanoTime();
            Curl.Result failed = get(fresh);
            long tookMillis = (System.nanoTime() - started) / 1_000_000;

            assertThat(failed.status()).isZero();
            assertThat(tookMillis).as("ms until the handshake failed").isLessThan(HANDSHAKE_WAIT.toMillis());
            IssuanceFailure failure =
                    node.server().certificates().lastFailure(fresh).orElseThrow();
            assertThat(failure.message()).startsWith("CA unreachable");
            assertThat(failure.failures()).isEqualTo(1);
            assertThat(failure.retryAt()).isAfter(failure.at());

            pebble.get().start();
            int ordersBefore = pebble.get().orderCount();
            Curl.Result heldBack = get(fresh);

            assertThat(heldBack.status()).isZero();
            assertThat(pebble.get().orderCount())
                    .as("orders after the CA came back")
                    .isEqualTo(ordersBefore);
            assertThat(node.server().metrics().scrape())
                    .contains("clicktls_on_demand_denied_total{reason=\"backoff\"} 1.0")
                    .contains("clicktls_tls_handshakes_total{result=\"backoff\"} 1.0");
            assertThat(get(stored).status()).isEqualTo(200);
        } finally {
            pebble.get().start(); // for the other tests, whatever happened here
        }
    }

    @Test
    void forcedRenewalLeavesAnOpenKeepAliveConnectionOnItsCertificateAndGivesNewOnesTheNewOne() throws Exception {
        start("tls-alpn-01, http-01");
        String name = newName();
        try (SSLSocket open = node.tlsSocket(name)) {
            BigInteger before = servedSerial(open);
            assertThat(request(open, name)).isEqualTo(200);

            CertifiedKey renewed = node.server().certificates().renew(name).get(30, TimeUnit.SECONDS);

            assertThat(renewed.leaf().getSerialNumber()).isNotEqualTo(before);
            assertThat(request(open, name))
                    .as("the open connection after the renewal")
                    .isEqualTo(200);
            assertThat(request(open, name)).isEqualTo(200);
            assertThat(servedSerial(open)).isEqualTo(before);
            try (SSLSocket fresh = node.tlsSocket(name)) {
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
        CertifiedKey first = node.server().certificates().cached(name).orElseThrow();
        node.stop();
        // Pebble's certificates live five years: move the proxy's clock to where a fifth of the lifetime is left
        Duration lifetime = Duration.between(first.notBefore(), first.notAfter());
        Instant inWindow = first.notAfter().minus(lifetime.dividedBy(5));
        Clock later = Clock.offset(Clock.systemUTC(), Duration.between(Instant.now(), inWindow));

        node.restart(config -> ClickTlsServer.start(
                config,
                null,
                later,
                new RenewalScheduler.Settings(Duration.ofSeconds(1), Duration.ofSeconds(1), Duration.ofHours(6))));

        String renewedSerial =
                waitForStoredSerial(name, first.leaf().getSerialNumber().toString(16));
        assertThat(renewedSerial).isNotEqualTo(first.leaf().getSerialNumber().toString(16));
        assertThat(node.server().metrics().scrape())
                .as("no handshake so far")
                .contains("clicktls_tls_handshakes_total{result=\"ok\"} 0.0");
        try (SSLSocket fresh = node.tlsSocket(name)) {
            assertThat(servedSerial(fresh).toString(16)).isEqualTo(renewedSerial);
        }
    }

    @Test
    void killedWithSignalNineMidOrderTheProxyLeavesNoHalfWrittenFileAndTheNextStartFinishesTheJob() throws Exception {
        Path jar = Path.of(System.getenv().getOrDefault("CLICKTLS_REPO_ROOT", ".."), "proxy/target/clicktls.jar");
        Assumptions.assumeTrue(Files.isRegularFile(jar), "needs the packaged jar (mvn package): " + jar);
        Path config = config("tls-alpn-01, http-01").write();
        String name = newName();
        pebbleRoot();
        int ordersBefore = pebble.get().orderCount();

        Process first = runJar(jar, config, dir.resolve("first-run.log"));
        ExecutorService client = Executors.newSingleThreadExecutor();
        try {
            Future<Curl.Result> handshake = client.submit(() -> get(name));
            Eventually.holds(
                    Duration.ofSeconds(15),
                    "the proxy placed its order",
                    () -> pebble.get().orderCount() > ordersBefore);
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
            // The sweep runs on the blocking executor shortly after start.
            Eventually.holds(
                    Duration.ofSeconds(10), "the killed process's temporary files are swept", () -> temporaryFiles(data)
                            .isEmpty());
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
            Eventually.holds(Duration.ofSeconds(30), "the packaged proxy serves https", () -> {
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
        Eventually.holds(Duration.ofSeconds(30), "a renewed certificate of " + name + " is stored", () -> {
            Matcher matcher = SERIAL.matcher(Files.readString(meta));
            serial[0] = matcher.find() ? matcher.group(1) : null;
            return serial[0] != null && !serial[0].equals(other);
        });
        return serial[0];
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

    private static String newName() {
        return "n" + UUID.randomUUID().toString().substring(0, 8) + ".acme.test";
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
