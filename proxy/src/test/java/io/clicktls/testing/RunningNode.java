package io.clicktls.testing;

import io.clicktls.ClickTlsServer;
import io.clicktls.config.ClickTlsConfig;
import io.clicktls.config.ConfigLoader;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;

/**
 * A whole node for integration tests, as a user runs it: a config file written into the test's folder from a
 * {@link Config} builder, a real {@link ClickTlsServer} started from that file (so the config watcher sees edits to
 * it), and clients that talk to it as users do: curl over https trusting the node's CA with the SNI name given, curl
 * over plain http, JDK HTTP requests to the admin listener, and a TLS socket for tests that keep a connection open.
 *
 * <p>Not thread-safe: a test starts, restarts and stops it from its own thread; the clients may be used from many.
 */
public final class RunningNode implements AutoCloseable {

    /** How a test starts the server from the config read from the file: {@code ClickTlsServer.start(config, null)}. */
    @FunctionalInterface
    public interface Starter {
        ClickTlsServer start(ClickTlsConfig config) throws Exception;
    }

    private static final Starter PLAIN_START = config -> ClickTlsServer.start(config, null);

    private final Config config;
    private final HttpClient adminClient = HttpClient.newHttpClient();
    private Path trustRoot;
    private ClickTlsServer server;

    private RunningNode(Config config) {
        this.config = config;
        this.trustRoot = config.directory.resolve(config.storageDirectory).resolve("ca/root.pem");
    }

    /** A builder of the config file {@code clicktls.yml} in {@code directory} (the test's own folder). */
    public static Config config(Path directory) {
        return new Config(directory);
    }

    /** Writes {@code config} and starts a server from the file. */
    public static RunningNode start(Config config) throws Exception {
        return start(config, PLAIN_START);
    }

    /** Writes {@code config} and starts a server from the file through {@code starter} (e.g. with a clock). */
    public static RunningNode start(Config config, Starter starter) throws Exception {
        config.write();
        RunningNode node = new RunningNode(config);
        node.restart(starter);
        return node;
    }

    /** Stops the server if it runs and starts a new one from the config file as it is now. */
    public void restart() throws Exception {
        restart(PLAIN_START);
    }

    /** Stops the server if it runs and starts a new one from the config file as it is now, through {@code starter}. */
    public void restart(Starter starter) throws Exception {
        stop();
        server = starter.start(ConfigLoader.load(config.file()));
    }

    /** Closes the server; the node can be {@link #restart() restarted}. Does nothing when it is not running. */
    public void stop() {
        ClickTlsServer running = server;
        server = null;
        if (running != null) {
            running.close();
        }
    }

    @Override
    public void close() {
        stop();
    }

    /** The running server; fails when it is stopped. */
    public ClickTlsServer server() {
        if (server == null) {
            throw new IllegalStateException("the node is stopped");
        }
        return server;
    }

    public Config config() {
        return config;
    }

    public Path configFile() {
        return config.file();
    }

    /** The test's folder, where the config file is and relative paths in it start. */
    public Path directory() {
        return config.directory;
    }

    /** The storage folder. */
    public Path storage() {
        return config.directory.resolve(config.storageDirectory);
    }

    /** The internal CA's root certificate, which the https clients trust unless told otherwise. */
    public Path internalRoot() {
        return storage().resolve("ca/root.pem");
    }

    /** Makes the https clients trust this PEM root instead of the internal CA's (e.g. an ACME CA's). */
    public RunningNode trust(Path rootPem) {
        this.trustRoot = rootPem;
        return this;
    }

    public int httpsPort() {
        return server().httpsPort();
    }

    public int httpPort() {
        return server().httpPort();
    }

    public int adminPort() {
        return server().adminPort();
    }

    /** curl {@code https://host:port target} with SNI {@code host}, resolved to 127.0.0.1, trusting the CA root. */
    public Curl.Result https(String host, String target, String... curlOptions) throws Exception {
        return Curl.https(trustRoot, httpsPort(), host, target, curlOptions);
    }

    /** curl {@code http://host:port target} on the plain-http listener. */
    public Curl.Result http(String host, String target, String... curlOptions) throws Exception {
        return Curl.http(httpPort(), host, target, curlOptions);
    }

    /** {@code http://127.0.0.1:adminPort path}. */
    public URI admin(String path) {
        return URI.create("http://127.0.0.1:" + adminPort() + path);
    }

    /** A GET on the admin listener; {@code headers} are name, value, name, value... */
    public HttpResponse<String> adminGet(String path, String... headers) throws Exception {
        return adminSend("GET", path, null, headers);
    }

    /** A request on the admin listener; {@code body} may be {@code null}; {@code headers} are name, value... */
    public HttpResponse<String> adminSend(String method, String path, String body, String... headers) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(admin(path))
                .method(
                        method,
                        body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (headers.length > 0) {
            request.headers(headers);
        }
        return adminClient.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    /**
     * A finished TLS handshake with the https listener, SNI {@code name}, trusting the CA root: for tests that look at
     * the certificate served or keep a connection open. The caller closes it.
     */
    public SSLSocket tlsSocket(String name) throws Exception {
        SSLContext context = ClientTls.trusting(ClientTls.readPem(trustRoot));
        SSLSocket socket = (SSLSocket) context.getSocketFactory().createSocket("127.0.0.1", httpsPort());
        try {
            SSLParameters parameters = socket.getSSLParameters();
            parameters.setServerNames(List.of(new SNIHostName(name)));
            socket.setSSLParameters(parameters);
            socket.setSoTimeout(15_000);
            socket.startHandshake();
            return socket;
        } catch (IOException | RuntimeException e) {
            socket.close();
            throw e;
        }
    }

    /**
     * The config file of a node, built as YAML: loopback listeners (port 0 unless set), {@code storage.directory}
     * ({@code data}), platforms, domains, any key by its dotted path, and raw YAML appended at the end. Mutable, so
     * that a test can change it and {@link #write()} it again or {@link #replace(String) replace} the file.
     */
    public static final class Config {

        private final Path directory;
        private final Map<String, Object> tree = new LinkedHashMap<>();
        private final List<String[]> domains = new ArrayList<>();
        private final StringBuilder raw = new StringBuilder();
        private String storageDirectory = "data";

        private Config(Path directory) {
            this.directory = directory;
            listeners(0, 0);
            set("listen.admin", "127.0.0.1:0");
            set("storage.directory", storageDirectory);
        }

        /** The https and plain-http listeners on 127.0.0.1 (0: any free port). */
        public Config listeners(int httpsPort, int httpPort) {
            set("listen.https", "127.0.0.1:" + httpsPort);
            return set("listen.http", "127.0.0.1:" + httpPort);
        }

        /** {@code storage.directory}, relative to the test's folder. */
        public Config storage(String relativeDirectory) {
            storageDirectory = relativeDirectory;
            return set("storage.directory", relativeDirectory);
        }

        /** {@code storage.postgres} ({@code url}, {@code user}, {@code schema}) in place of {@code storage.directory}. */
        @SuppressWarnings("unchecked")
        public Config postgres(String url, String user, String schema) {
            ((Map<String, Object>) tree.get("storage")).remove("directory");
            set("storage.postgres.url", url);
            set("storage.postgres.user", user);
            return set("storage.postgres.schema", schema);
        }

        /**
         * {@code storage.postgres} instead of {@code storage.directory}: the database, role and schema of
         * {@code settings}; the node's local copy stays in the default {@code data/postgres-cache}, which
         * {@link RunningNode#storage()} then names (the internal CA's root is copied there too).
         */
        @SuppressWarnings("unchecked")
        public Config postgres(io.clicktls.storage.postgres.PostgresSettings settings) {
            ((Map<String, Object>) tree.get("storage")).remove("directory");
            storageDirectory = io.clicktls.config.StorageSettings.DEFAULT_POSTGRES_CACHE;
            set("storage.postgres.url", settings.url());
            set("storage.postgres.user", settings.user());
            return set("storage.postgres.schema", settings.schema());
        }

        /**
         * {@code storage.postgres} with the superuser of {@code server} in {@code schema}; nodes given the same schema
         * share everything stored.
         */
        public Config postgres(PostgresServer server, String schema) {
            return postgres(io.clicktls.storage.postgres.PostgresSettings.of(server.url(), "postgres", null)
                    .withSchema(schema));
        }

        /**
         * {@code certificates.issuer: acme} with its directory, CA trust file and challenges (a YAML flow list's
         * inside, e.g. {@code "tls-alpn-01, http-01"}); more of {@code certificates.*} goes through {@link #set}.
         */
        public Config acme(URI directoryUrl, Path trustedCa, String challenges) {
            set("certificates.issuer", "acme");
            set("certificates.acme.directory", directoryUrl.toString());
            set("certificates.acme.trusted_ca", trustedCa.toString());
            return set("certificates.acme.challenges", "[" + challenges + "]");
        }

        /** A platform and its upstream URL. */
        public Config platform(String name, String upstream) {
            return set("platforms." + name + ".upstream", upstream);
        }

        /** A plain-http platform on 127.0.0.1. */
        public Config platform(String name, int port) {
            return platform(name, "http://127.0.0.1:" + port);
        }

        /** Adds domains (exact names or {@code *.} patterns) served through {@code platform}. */
        public Config domains(String platform, String... names) {
            for (String name : names) {
                domains.add(new String[] {name, platform});
            }
            return this;
        }

        /** Forgets the domains added so far. */
        public Config clearDomains() {
            domains.clear();
            return this;
        }

        /** {@code upgrade.location} and {@code upgrade.html}. */
        public Config upgrade(boolean location, boolean html) {
            set("upgrade.location", String.valueOf(location));
            return set("upgrade.html", String.valueOf(html));
        }

        /**
         * Any key by its dotted path ({@code certificates.on_demand.handshake_wait}), with a YAML value written as it
         * should stand in the file ({@code 10s}, {@code [127.0.0.1]}, {@code { allow: 1h, deny: 5m }}).
         */
        @SuppressWarnings("unchecked")
        public Config set(String path, String yamlValue) {
            String[] keys = path.split("\\.");
            Map<String, Object> section = tree;
            for (int i = 0; i < keys.length - 1; i++) {
                section = (Map<String, Object>) section.computeIfAbsent(keys[i], key -> new LinkedHashMap<>());
            }
            section.put(keys[keys.length - 1], yamlValue);
            return this;
        }

        /** YAML appended as it is after everything else (top-level sections the builder does not name). */
        public Config yaml(String text) {
            raw.append(text);
            if (!text.endsWith("\n")) {
                raw.append('\n');
            }
            return this;
        }

        /** The file's text. */
        public String render() {
            StringBuilder yaml = new StringBuilder();
            render(tree, "", yaml);
            if (!domains.isEmpty()) {
                yaml.append("domains:\n");
                for (String[] domain : domains) {
                    yaml.append("  - name: \"")
                            .append(domain[0])
                            .append("\"\n    platform: ")
                            .append(domain[1])
                            .append('\n');
                }
            }
            return yaml.append(raw).toString();
        }

        @SuppressWarnings("unchecked")
        private static void render(Map<String, Object> section, String indent, StringBuilder yaml) {
            for (Map.Entry<String, Object> entry : section.entrySet()) {
                yaml.append(indent).append(entry.getKey()).append(':');
                if (entry.getValue() instanceof Map<?, ?> nested) {
                    yaml.append('\n');
                    render((Map<String, Object>) nested, indent + "  ", yaml);
                } else {
                    yaml.append(' ').append(entry.getValue()).append('\n');
                }
            }
        }

        /** {@code clicktls.yml} in the test's folder. */
        public Path file() {
            return directory.resolve("clicktls.yml");
        }

        /** Writes the file in place. */
        public Path write() throws IOException {
            Files.writeString(file(), render(), StandardCharsets.UTF_8);
            return file();
        }

        /** Replaces the file by a rename, as editors do, with {@code yaml} (e.g. {@link #render()} plus a typo). */
        public void replace(String yaml) throws IOException {
            Path temp = file().resolveSibling(file().getFileName() + ".tmp");
            Files.writeString(temp, yaml, StandardCharsets.UTF_8);
            Files.move(temp, file(), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        }

        /** Replaces the file by a rename with what the builder says now. */
        public void replace() throws IOException {
            replace(render());
        }
    }
}
