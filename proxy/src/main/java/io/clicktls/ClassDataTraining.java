package io.clicktls;

import ch.qos.logback.classic.Level;
import io.clicktls.config.ConfigLoader;
import io.clicktls.config.Endpoint;
import io.clicktls.pki.ClientTrust;
import io.clicktls.pki.Pem;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.SSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The training run behind the class-data sharing archive that {@code mvn package} writes beside the jar
 * ({@code proxy/target/clicktls.jsa}, used by README's run command through {@code -XX:SharedArchiveFile}). The build
 * runs this class under {@code -XX:ArchiveClassesAtExit}: every class it loads is stored parsed and verified in the
 * archive, so that a node's start and its first clicks skip that work (start to serving with 100,000 domains, and the
 * first seconds of a restarted node's load, are mostly class loading).
 *
 * <p>It does what a node does in its first minute, on loopback and ephemeral ports only: starts from a config like the
 * embedded default (internal CA, the built-in stand-in platform), answers clicks over HTTP/2 and HTTP/1.1 (a listed
 * name and a new name under a wildcard, so an on-demand issuance too), a redirect back and an HTML page that are
 * rewritten, a plain-http click, the admin pages and a config reload, then stops. The JVM writes the archive when this
 * exits. Any answer other than the expected one fails the build: an archive trained on a broken path would hide it.
 *
 * <p>Names resolve through a hosts file of its own ({@code jdk.net.hosts.file}), set before anything resolves a name:
 * never real DNS.
 */
public final class ClassDataTraining {

    private static final Logger log = LoggerFactory.getLogger(ClassDataTraining.class);

    /**
     * Clients per HTTP version (the second and later resume the first one's TLS session) and clicks per client: enough
     * that the steady path of a click, not only the first one, is loaded.
     */
    private static final int CLIENTS = 3;

    private static final int CLICKS = 15;

    private final Path work;
    private final List<String> failures = new ArrayList<>();

    private ClassDataTraining(Path work) {
        this.work = work;
    }

    /** {@code ClassDataTraining WORK_DIR}: exit 0 when every step answered as expected, 1 otherwise. */
    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: ClassDataTraining WORK_DIR");
            System.exit(64);
        }
        Path work = Path.of(args[0]).toAbsolutePath();
        Path hosts = work.resolve("hosts");
        System.setProperty("jdk.net.hosts.file", hosts.toString());
        deleteTree(work);
        Files.createDirectories(work);
        Files.writeString(hosts, "127.0.0.1 links.example.test a.shop.test\n");
        List<String> failures = new ClassDataTraining(work).run();
        if (failures.isEmpty()) {
            System.out.println("clicktls: class-data training done");
            System.exit(0);
        }
        failures.forEach(f -> System.err.println("clicktls: class-data training: " + f));
        System.exit(1);
    }

    private List<String> run() throws Exception {
        // Only warnings in the build's output; the classes of every log line are loaded all the same.
        ((ch.qos.logback.classic.Logger) LoggerFactory.getLogger(Logger.ROOT_LOGGER_NAME)).setLevel(Level.WARN);
        WarmUp.startInBackground();
        int platformPort = freePort();
        Path configFile = work.resolve("clicktls.yml");
        Files.writeString(configFile, config(platformPort, false));
        ClickTlsServer server =
                ClickTlsServer.start(ConfigLoader.load(configFile), new Endpoint("127.0.0.1", platformPort));
        try {
            SSLContext tls = trustingInternalCa();
            HttpClient h1 = client(HttpClient.Version.HTTP_1_1, tls);
            String https = ":" + server.httpsPort();
            for (HttpClient.Version version : List.of(HttpClient.Version.HTTP_2, HttpClient.Version.HTTP_1_1)) {
                HttpClient client = null;
                for (int c = 0; c < CLIENTS; c++) {
                    client = client(version, tls);
                    for (int i = 0; i < CLICKS; i++) {
                        expect(client, "https://links.example.test" + https + "/ls/click?to=https://example.com/", 302);
                    }
                }
                expect(client, "https://a.shop.test" + https + "/ls/click?to=https://example.com/sale", 302);
                expect(client, "https://links.example.test" + https + "/back", 302);
                expect(client, "https://links.example.test" + https + "/unsubscribe", 200);
                expect(client, "https://links.example.test" + https + "/wf/open", 200);
            }
            expect(h1, "http://links.example.test:" + server.httpPort() + "/ls/click?to=https://example.com/", 308);
            String admin = "http://127.0.0.1:" + server.adminPort();
            for (String path : List.of("/healthz", "/metrics", "/status", "/api/domains", "/api/domains/a.shop.test")) {
                expect(h1, admin + path, 200);
            }
            Files.writeString(configFile, config(platformPort, true));
            awaitReload(h1, admin);
        } finally {
            server.close();
        }
        return failures;
    }

    private static String config(int platformPort, boolean withSecondName) {
        return """
                listen:
                  https: 127.0.0.1:0
                  http: 127.0.0.1:0
                  admin: 127.0.0.1:0
                storage:
                  directory: data
                certificates:
                  issuer: internal
                platforms:
                  stand-in:
                    upstream: http://127.0.0.1:%d
                domains:
                  - name: links.example.test
                    platform: stand-in
                  - name: "*.shop.test"
                    platform: stand-in
                %s"""
                .formatted(platformPort, withSecondName ? "  - name: b.example.test\n    platform: stand-in\n" : "");
    }

    /** Waits up to 10 s for the edited config to be live: b.example.test appears in the admin API. */
    private void awaitReload(HttpClient client, String admin) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (System.nanoTime() < deadline) {
            if (status(client, admin + "/api/domains/b.example.test") == 200) {
                return;
            }
            Thread.sleep(100);
        }
        failures.add("the edited config was not live within 10 s");
    }

    private void expect(HttpClient client, String url, int expected) {
        int status = status(client, url);
        if (status != expected) {
            failures.add(url + ": " + (status < 0 ? "no answer" : "status " + status) + ", expected " + expected);
        }
    }

    private static int status(HttpClient client, String url) {
        try {
            return client.send(
                            HttpRequest.newBuilder(URI.create(url))
                                    .timeout(Duration.ofSeconds(10))
                                    .build(),
                            HttpResponse.BodyHandlers.discarding())
                    .statusCode();
        } catch (IOException e) {
            log.warn("class-data training: {}: {}", url, e.toString());
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    /** Trusts the internal CA's root, which the server wrote to its storage. */
    private SSLContext trustingInternalCa() throws Exception {
        return ClientTrust.jdkCasAnd(Pem.decodeChain(Files.readAllBytes(work.resolve("data/ca/root.pem"))));
    }

    /** A client that follows no redirect: the proxy's own 302 and 308 are what is checked. */
    private static HttpClient client(HttpClient.Version version, SSLContext tls) {
        return HttpClient.newBuilder()
                .version(version)
                .sslContext(tls)
                .followRedirects(HttpClient.Redirect.NEVER)
                .connectTimeout(Duration.ofSeconds(10))
                .build();
    }

    private static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (var paths = Files.walk(root)) {
            for (Path path : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(path);
            }
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }
}
