package io.clicktls.testing;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.SecureRandom;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLContext;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.util.io.pem.PemObject;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * A real ACME CA for integration tests: Debian's {@code pebble} plus {@code pebble-challtestsrv} as its DNS server
 * (every name resolves to 127.0.0.1), each on free loopback ports, with an API certificate made per run.
 *
 * <p>Start it after the test's challenge responders have bound, and pass their ports:
 * {@code Pebble.builder().httpPort(http).tlsPort(tls).start()}. Pebble forgets everything when it stops, and its
 * issuing root is new on every start: use {@link #rootCertificate()} after each {@link #start()}.
 *
 * <p>When the binaries are missing the test is aborted with a loud message, or fails under {@code CI=true}.
 * Processes are killed on {@link #close()} and, failing that, when the JVM exits. Not thread-safe: one test
 * class drives one instance.
 */
public final class Pebble implements AutoCloseable {

    private static final Path PEBBLE = Path.of("/usr/bin/pebble");
    private static final Path CHALLTESTSRV = Path.of("/usr/bin/pebble-challtestsrv");
    private static final String MISSING = "pebble not installed: apt-get install pebble";
    private static final Pattern NEW_ORDER = Pattern.compile("Added order \"[^\"]*\" to the db");
    private static final Pattern NEW_ACCOUNT = Pattern.compile("There are now (\\d+) accounts in memory");

    private final Path directory;
    private final Map<String, String> environment;
    private final int acmePort;
    private final int managementPort;
    private final int dnsPort;
    private final int dnsManagementPort;
    private final String apiCertificatePem;
    private final HttpClient client;
    private final Thread shutdownHook;
    private Process pebble;
    private Process challtestsrv;
    private int starts;

    /** Options; every port not given is a free one. */
    public static final class Builder {
        private int httpPort;
        private int tlsPort;
        private int nonceRejectPercent = 5;
        private int authzReusePercent = 50;
        private final Map<String, String> externalAccountMacKeys = new LinkedHashMap<>();

        private Builder() {}

        /**
         * Makes Pebble refuse new accounts without external account binding, and accept a binding by {@code kid}
         * signed with {@code hmacKey} (base64url, as a CA hands it out). Call again for more keys.
         */
        public Builder requireExternalAccountBinding(String kid, String hmacKey) {
            externalAccountMacKeys.put(kid, hmacKey);
            return this;
        }

        /** The port the CA connects to for http-01 (where the test's responder or proxy listens). */
        public Builder httpPort(int port) {
            this.httpPort = port;
            return this;
        }

        /** The port the CA connects to for tls-alpn-01. */
        public Builder tlsPort(int port) {
            this.tlsPort = port;
            return this;
        }

        /** {@code PEBBLE_WFE_NONCEREJECT}: the share of good nonces rejected as bad (Pebble's default: 5). */
        public Builder nonceRejectPercent(int percent) {
            this.nonceRejectPercent = percent;
            return this;
        }

        /** {@code PEBBLE_AUTHZREUSE}: how often a valid authorization is reused (Pebble's default: 50). */
        public Builder authzReusePercent(int percent) {
            this.authzReusePercent = percent;
            return this;
        }

        public Pebble start() {
            Pebble started;
            try {
                started = new Pebble(this);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            try {
                started.start();
                return started;
            } catch (IOException | RuntimeException e) {
                started.close();
                throw e instanceof IOException io ? new UncheckedIOException(io) : (RuntimeException) e;
            }
        }

        /** A Pebble built so, started before the class's tests and stopped after them (see {@link PerClass}). */
        public PerClass<Pebble> perClass() {
            return PerClass.of(this::start);
        }
    }

    public static Builder builder() {
        return new Builder();
    }

    private Pebble(Builder options) throws IOException {
        requireInstalled();
        this.directory = Files.createTempDirectory("clicktls-pebble");
        this.acmePort = LocalServers.freePort();
        this.managementPort = LocalServers.freePort();
        this.dnsPort = LocalServers.freePort();
        this.dnsManagementPort = LocalServers.freePort();
        int httpPort = options.httpPort != 0 ? options.httpPort : LocalServers.freePort();
        int tlsPort = options.tlsPort != 0 ? options.tlsPort : LocalServers.freePort();

        var apiKey = SelfSigned.ecKey();
        var apiCertificate = apiCertificate(apiKey);
        this.apiCertificatePem = pem(apiCertificate);
        Files.writeString(directory.resolve("cert.pem"), apiCertificatePem);
        // PKCS#8: the JDK's EC key alone would write as a SEC1 key without its curve, which Go cannot read
        Files.writeString(
                directory.resolve("key.pem"),
                pem(new PemObject("PRIVATE KEY", apiKey.getPrivate().getEncoded())));
        Files.writeString(
                directory.resolve("pebble-config.json"),
                """
                {
                  "pebble": {
                    "listenAddress": "127.0.0.1:%d",
                    "managementListenAddress": "127.0.0.1:%d",
                    "certificate": "%s",
                    "privateKey": "%s",
                    "httpPort": %d,
                    "tlsPort": %d,
                    "ocspResponderURL": "",
                    "externalAccountBindingRequired": %s,
                    "externalAccountMACKeys": {%s}
                  }
                }
                """
                        .formatted(
                                acmePort,
                                managementPort,
                                directory.resolve("cert.pem"),
                                directory.resolve("key.pem"),
                                httpPort,
                                tlsPort,
                                !options.externalAccountMacKeys.isEmpty(),
                                macKeysJson(options)));

        this.environment = new LinkedHashMap<>();
        environment.put("PEBBLE_VA_NOSLEEP", "1");
        environment.put("PEBBLE_WFE_NONCEREJECT", Integer.toString(options.nonceRejectPercent));
        environment.put("PEBBLE_AUTHZREUSE", Integer.toString(options.authzReusePercent));

        this.client = HttpClient.newBuilder()
                .sslContext(trusting(apiCertificate))
                .connectTimeout(Duration.ofSeconds(2))
                .build();
        this.shutdownHook = new Thread(this::killAll, "pebble-killer");
        Runtime.getRuntime().addShutdownHook(shutdownHook);
    }

    /**
     * {@code pebble-challtestsrv} as a DNS server alone on 127.0.0.1 (its http-01, https-01 and tls-alpn-01 responders
     * and the default AAAA answer off), managed on {@code managementPort}.
     */
    public static ProcessBuilder dnsOnlyChallTestSrv(int dnsPort, int managementPort) {
        return new ProcessBuilder(
                CHALLTESTSRV.toString(),
                "-dns01",
                "127.0.0.1:" + dnsPort,
                "-http01",
                "",
                "-https01",
                "",
                "-tlsalpn01",
                "",
                "-defaultIPv6",
                "",
                "-management",
                "127.0.0.1:" + managementPort);
    }

    /** Starts (or restarts, after {@link #stop()}) Pebble on the same ports, with a new root and no state. */
    public void start() throws IOException {
        if (challtestsrv == null || !challtestsrv.isAlive()) {
            challtestsrv = dnsOnlyChallTestSrv(dnsPort, dnsManagementPort)
                    .redirectErrorStream(true)
                    .redirectOutput(directory.resolve("challtestsrv.log").toFile())
                    .start();
        }
        if (pebble != null && pebble.isAlive()) {
            return;
        }
        starts++;
        var command = new ProcessBuilder(
                        PEBBLE.toString(),
                        "-config",
                        directory.resolve("pebble-config.json").toString(),
                        "-dnsserver",
                        "127.0.0.1:" + dnsPort)
                .directory(directory.toFile())
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log().toFile()));
        command.environment().putAll(environment);
        pebble = command.start();
        awaitReady();
    }

    /** Stops Pebble (the DNS server keeps running): the CA is down until {@link #start()}. */
    public void stop() {
        LocalServers.stop(pebble);
    }

    /** Freezes Pebble ({@code SIGSTOP}): requests to it wait, unanswered, until {@link #resume()}. */
    public void pause() throws IOException, InterruptedException {
        LocalServers.signal(pebble, "-STOP");
    }

    /** Lets a {@linkplain #pause() paused} Pebble go on ({@code SIGCONT}). */
    public void resume() throws IOException, InterruptedException {
        LocalServers.signal(pebble, "-CONT");
    }

    public URI directoryUrl() {
        return URI.create("https://127.0.0.1:" + acmePort + "/dir");
    }

    /** The CA of Pebble's own HTTPS (its API certificate), for {@code trusted_ca}. */
    public String trustedCaPem() {
        return apiCertificatePem;
    }

    /** {@link #trustedCaPem()} written to a file in this instance's temporary directory. */
    public Path trustedCaFile() {
        return directory.resolve("cert.pem");
    }

    /** The root that signs issued certificates; new on every start. */
    public String rootCertificatePem() {
        return get("https://127.0.0.1:" + managementPort + "/roots/0");
    }

    public X509Certificate rootCertificate() {
        try {
            return (X509Certificate) CertificateFactory.getInstance("X.509")
                    .generateCertificate(
                            new ByteArrayInputStream(rootCertificatePem().getBytes(StandardCharsets.US_ASCII)));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Orders created since this instance was built (across restarts), counted from Pebble's log. */
    public int orderCount() {
        Matcher matcher = NEW_ORDER.matcher(logText());
        int count = 0;
        while (matcher.find()) {
            count++;
        }
        return count;
    }

    /** Accounts Pebble holds since its last start (registrations; finding an existing account adds none). */
    public int accountCount() {
        Matcher matcher = NEW_ACCOUNT.matcher(logText().substring(lastStartOffset()));
        int last = 0;
        while (matcher.find()) {
            last = Integer.parseInt(matcher.group(1));
        }
        return last;
    }

    /** Everything Pebble printed, across restarts. */
    public String logText() {
        try {
            return Files.exists(log()) ? Files.readString(log()) : "";
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Makes {@code name} resolve to {@code ip} for the CA (instead of 127.0.0.1). */
    public void addA(String name, String ip) {
        post("/add-a", "{\"host\":\"" + name + "\",\"addresses\":[\"" + ip + "\"]}");
    }

    /** Undoes {@link #addA}: {@code name} resolves to 127.0.0.1 again. */
    public void clearA(String name) {
        post("/clear-a", "{\"host\":\"" + name + "\"}");
    }

    /** The DNS server Pebble asks (challtestsrv), as {@code 127.0.0.1:PORT}, for {@code on_demand.dns_server}. */
    public String dnsServer() {
        return "127.0.0.1:" + dnsPort;
    }

    /**
     * Makes {@code name} a CNAME to {@code target}. challtestsrv answers A questions through one level of CNAME only,
     * so Pebble sees a longer chain cut short; CNAME questions are answered hop by hop.
     */
    public void setCname(String name, String target) {
        post("/set-cname", "{\"host\":\"" + name + "\",\"target\":\"" + target + "\"}");
    }

    /** Undoes {@link #setCname}. */
    public void clearCname(String name) {
        post("/clear-cname", "{\"host\":\"" + name + "\"}");
    }

    /** Adds a CAA {@code issue} record naming {@code issuer} at {@code name}. */
    public void addCaaIssue(String name, String issuer) {
        post("/add-caa", "{\"host\":\"" + name + "\",\"policies\":[{\"tag\":\"issue\",\"value\":\"" + issuer + "\"}]}");
    }

    @Override
    public void close() {
        killAll();
        try {
            Runtime.getRuntime().removeShutdownHook(shutdownHook);
        } catch (IllegalStateException alreadyShuttingDown) {
            // the hook runs anyway
        }
        deleteQuietly(directory);
    }

    private void awaitReady() {
        Eventually.untilAnswers(
                pebble,
                "pebble at " + directoryUrl(),
                Duration.ofSeconds(15),
                () -> {
                    var response = client.send(
                            HttpRequest.newBuilder(directoryUrl())
                                    .timeout(Duration.ofSeconds(1))
                                    .build(),
                            HttpResponse.BodyHandlers.ofString());
                    return response.statusCode() == 200 && response.body().contains("newOrder");
                },
                this::logText);
    }

    private int lastStartOffset() {
        String text = logText();
        int at = text.lastIndexOf("Starting Pebble ACME server");
        return Math.max(at, 0);
    }

    private String get(String url) {
        try {
            var response =
                    client.send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofString());
            if (response.statusCode() != 200) {
                throw new IllegalStateException("GET " + url + " -> " + response.statusCode());
            }
            return response.body();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private void post(String path, String json) {
        ChallTestSrvApi.post(dnsManagementPort, path, json);
    }

    private Path log() {
        return directory.resolve("pebble.log");
    }

    private void killAll() {
        LocalServers.stop(pebble);
        LocalServers.stop(challtestsrv);
    }

    private static void requireInstalled() {
        if (Files.isExecutable(PEBBLE) && Files.isExecutable(CHALLTESTSRV)) {
            return;
        }
        if ("true".equalsIgnoreCase(System.getenv("CI"))) {
            Assertions.fail("!!! " + MISSING + " (CI=true: integration tests against Pebble must run) !!!");
        }
        System.err.println("!!! " + MISSING + ": skipping the ACME integration test !!!");
        Assumptions.abort(MISSING);
    }

    private static String macKeysJson(Builder options) {
        var json = new StringBuilder();
        options.externalAccountMacKeys.forEach((kid, key) -> json.append(json.length() == 0 ? "" : ", ")
                .append('"')
                .append(kid)
                .append("\": \"")
                .append(key)
                .append('"'));
        return json.toString();
    }

    private static X509Certificate apiCertificate(KeyPair key) {
        try {
            var subject = new X500Name("CN=clicktls test pebble");
            Instant now = Instant.now();
            var builder = new JcaX509v3CertificateBuilder(
                            subject,
                            new BigInteger(64, new SecureRandom()),
                            Date.from(now.minus(Duration.ofHours(1))),
                            Date.from(now.plus(Duration.ofDays(2))),
                            subject,
                            key.getPublic())
                    .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
                    .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature))
                    .addExtension(
                            Extension.extendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth))
                    .addExtension(Extension.subjectAlternativeName, false, new GeneralNames(new GeneralName[] {
                        new GeneralName(GeneralName.dNSName, "localhost"),
                        new GeneralName(GeneralName.iPAddress, "127.0.0.1"),
                    }));
            var signer = new JcaContentSignerBuilder("SHA256withECDSA").build(key.getPrivate());
            return new JcaX509CertificateConverter().getCertificate(builder.build(signer));
        } catch (IOException | GeneralSecurityException | OperatorCreationException e) {
            throw new IllegalStateException("cannot make Pebble's API certificate", e);
        }
    }

    private static SSLContext trusting(X509Certificate certificate) {
        try {
            return ClientTls.trusting(certificate);
        } catch (IOException | GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String pem(Object object) {
        var text = new StringWriter();
        try (var writer = new JcaPEMWriter(text)) {
            writer.writeObject(object);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return text.toString();
    }

    private static void deleteQuietly(Path root) {
        try (var paths = Files.walk(root)) {
            List<Path> all = new ArrayList<>(paths.toList());
            all.sort(Comparator.reverseOrder());
            for (Path path : all) {
                Files.deleteIfExists(path);
            }
        } catch (IOException ignored) {
            // a temp directory left behind is harmless
        }
    }
}
