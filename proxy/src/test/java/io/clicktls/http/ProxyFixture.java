package io.clicktls.http;

import io.clicktls.acme.Challenges;
import io.clicktls.config.ClickTlsConfig;
import io.clicktls.config.ConfigSnapshot;
import io.clicktls.config.Domain;
import io.clicktls.config.Platform;
import io.clicktls.config.Upgrade;
import io.clicktls.metrics.Metrics;
import io.clicktls.pki.CertifiedKey;
import io.clicktls.testing.ConfigInCode;
import io.clicktls.testing.Curl;
import io.clicktls.testing.StandInPlatform;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http2.Http2SecurityUtil;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.SupportedCipherSuiteFilter;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;

/**
 * A proxy on ephemeral ports in front of stand-in platforms, with a test CA, and the clients the tests use: curl
 * (HTTP/1.1 and HTTP/2), raw sockets for requests no well-behaved client sends, and the JDK's HttpClient.
 *
 * <p>Domains: {@code *.shop.test} → plain-http stand-in; {@code links.tls.test} → https stand-in by its name
 * {@code localhost}; {@code bad.tls.test} → the same stand-in by IP (its certificate does not name the IP, so
 * verification fails); {@code links.down.test} → a closed port; {@code links.rewrite.test} → the plain stand-in
 * with {@code host_header: upstream}; {@code links.uncovered.test} is served but not named by the proxy's
 * certificate. {@code nowhere.other.test} is in the proxy's certificate but not served.
 */
abstract class ProxyFixture {

    static final Duration RESPONSE_TIMEOUT = Duration.ofMillis(1500);
    static final Duration HANDSHAKE_WAIT = Duration.ofMillis(600);

    static ThrowawayCa pki;
    static FakeCertificates certificates;
    static final Map<String, String> challengeAnswers = new ConcurrentHashMap<>();
    static StandInPlatform standIn;
    static StandInPlatform standInTls;
    static ProxyServer proxy;
    static Metrics metrics;
    static AtomicReference<ConfigSnapshot> config;
    static ClickTlsConfig baseConfig;
    static Path workDir;
    static Path caPem;
    static CertifiedKey serverCertificate;
    private static SslContext serverContext;
    private static SslContext upstreamContext;
    private static EventLoopGroup boss;
    private static EventLoopGroup worker;
    private static ExecutorService blocking;

    @BeforeAll
    static void startProxy() throws Exception {
        pki = new ThrowawayCa();
        certificates = new FakeCertificates(pki);
        workDir = Files.createTempDirectory("clicktls-http-it");
        caPem = pki.writeCaPem(workDir);

        CertifiedKey upstreamCertificate = pki.issue("localhost");
        standIn = StandInPlatform.start();
        standInTls = StandInPlatform.startTls(SslContextBuilder.forServer(
                        upstreamCertificate.key(), upstreamCertificate.chain().toArray(X509Certificate[]::new))
                .build());
        int closedPort;
        try (ServerSocket socket = new ServerSocket(0)) {
            closedPort = socket.getLocalPort();
        }

        Map<String, Platform> platforms = Map.of(
                "stand-in", new Platform("stand-in", standIn.upstream(), Platform.HostHeader.PRESERVE),
                "stand-in-tls",
                        new Platform("stand-in-tls", standInTls.upstream("localhost"), Platform.HostHeader.PRESERVE),
                "stand-in-tls-by-ip",
                        new Platform(
                                "stand-in-tls-by-ip", standInTls.upstream("127.0.0.1"), Platform.HostHeader.PRESERVE),
                "down",
                        new Platform(
                                "down",
                                java.net.URI.create("http://127.0.0.1:" + closedPort),
                                Platform.HostHeader.PRESERVE),
                "upstream-host", new Platform("upstream-host", standIn.upstream(), Platform.HostHeader.UPSTREAM));
        List<Domain> domains = List.of(
                new Domain("*.shop.test", "stand-in"),
                new Domain("links.tls.test", "stand-in-tls"),
                new Domain("bad.tls.test", "stand-in-tls-by-ip"),
                new Domain("links.down.test", "down"),
                new Domain("links.rewrite.test", "upstream-host"),
                new Domain("links.uncovered.test", "stand-in"));
        baseConfig = ConfigInCode.internalIssuer(
                workDir, HANDSHAKE_WAIT, platforms, domains, new Upgrade(Upgrade.HttpMode.REDIRECT, true, true));
        config = new AtomicReference<>(ConfigSnapshot.of(baseConfig));

        serverCertificate = pki.issue(
                "*.shop.test",
                "links.tls.test",
                "bad.tls.test",
                "links.down.test",
                "links.rewrite.test",
                "nowhere.other.test");
        serverContext = tlsServerContext(OpenSsl.isAvailable() ? SslProvider.OPENSSL : SslProvider.JDK);
        upstreamContext =
                SslContextBuilder.forClient().trustManager(pki.caCertificate()).build();

        boss = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        worker = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
        blocking = Executors.newFixedThreadPool(2);
        metrics = new Metrics();
        proxy = proxyBuilder().build().start();
    }

    /** A builder wired like the shared proxy: for tests that need a proxy of their own (other timeouts, close). */
    static ProxyServer.Builder proxyBuilder() {
        return ProxyServer.builder()
                .config(config::get)
                .eventLoops(boss, worker)
                .channelTypes(NioServerSocketChannel.class, NioSocketChannel.class)
                .tlsHandlerFactory(ch -> serverContext.newHandler(ch.alloc()))
                .certificates(certificates)
                .challenges(new Challenges() {
                    @Override
                    public Optional<String> httpKeyAuthorization(String token) {
                        return Optional.ofNullable(challengeAnswers.get(token));
                    }

                    @Override
                    public Optional<CertifiedKey> tlsAlpnCertificate(String name) {
                        return Optional.empty();
                    }
                })
                .challengeExecutor(blocking)
                .metrics(metrics)
                .upstreamSslContext(upstreamContext)
                .upstreamConnectTimeout(Duration.ofSeconds(1))
                .upstreamResponseTimeout(RESPONSE_TIMEOUT)
                .drainTimeout(Duration.ofMillis(200));
    }

    @AfterAll
    static void stopProxy() {
        if (proxy != null) {
            proxy.close();
        }
        if (boss != null) {
            boss.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
            worker.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
            blocking.shutdownNow();
        }
        if (standIn != null) {
            standIn.close();
            standInTls.close();
        }
    }

    @BeforeEach
    void resetState() {
        standIn.reset();
        standInTls.reset();
        certificates.reset();
        challengeAnswers.clear();
        config.set(ConfigSnapshot.of(baseConfig));
    }

    static void upgradeHttp(Upgrade.HttpMode mode) {
        ClickTlsConfig c = baseConfig;
        config.set(ConfigSnapshot.of(new ClickTlsConfig(
                c.listen(),
                c.storage(),
                c.certificates(),
                c.platforms(),
                c.domains(),
                new Upgrade(mode, true, true),
                c.source())));
    }

    /** The proxy's server side of TLS with {@link #serverCertificate}, ALPN h2 and http/1.1, on {@code provider}. */
    static SslContext tlsServerContext(SslProvider provider) throws SSLException {
        return SslContextBuilder.forServer(
                        serverCertificate.key(), serverCertificate.chain().toArray(X509Certificate[]::new))
                .sslProvider(provider)
                .ciphers(Http2SecurityUtil.CIPHERS, SupportedCipherSuiteFilter.INSTANCE)
                .applicationProtocolConfig(new ApplicationProtocolConfig(
                        ApplicationProtocolConfig.Protocol.ALPN,
                        ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                        ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
                        ApplicationProtocolNames.HTTP_2,
                        ApplicationProtocolNames.HTTP_1_1))
                .build();
    }

    /** curl to {@code https://host:<https port><target>}, the name resolved to 127.0.0.1, trusting the test CA. */
    static Curl.Result curlHttps(String host, String target, String... options) throws Exception {
        return curlHttps(proxy.httpsPort(), host, target, options);
    }

    static Curl.Result curlHttps(int port, String host, String target, String... options) throws Exception {
        List<String> args =
                new ArrayList<>(List.of("--cacert", caPem.toString(), "--resolve", host + ":" + port + ":127.0.0.1"));
        args.addAll(List.of(options));
        args.add("https://" + host + ":" + port + target);
        return curl(args);
    }

    /** curl to {@code http://host:<http port><target>}. */
    static Curl.Result curlHttp(String host, String target, String... options) throws Exception {
        List<String> args = new ArrayList<>(List.of("--resolve", host + ":" + proxy.httpPort() + ":127.0.0.1"));
        args.addAll(List.of(options));
        args.add("http://" + host + ":" + proxy.httpPort() + target);
        return curl(args);
    }

    static Curl.Result curl(List<String> options) throws Exception {
        return Curl.run(options);
    }

    /**
     * Sends raw bytes over TLS (SNI {@code serverName}, none if {@code null}; ALPN http/1.1) and returns all bytes
     * read until close.
     */
    static String rawHttps(String serverName, String request) throws Exception {
        return rawHttps(proxy.httpsPort(), serverName, request);
    }

    static String rawHttps(int port, String serverName, String request) throws Exception {
        try (SSLSocket socket = openTls(port, serverName)) {
            return exchange(socket, request);
        }
    }

    /** A TLS connection to the https listener trusting the test CA, ALPN http/1.1, SNI unless {@code null}. */
    static SSLSocket openTls(int port, String serverName) throws Exception {
        KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
        trust.load(null, null);
        trust.setCertificateEntry("ca", pki.caCertificate());
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        SSLContext ssl = SSLContext.getInstance("TLS");
        ssl.init(null, tmf.getTrustManagers(), null);
        SSLSocket socket = (SSLSocket) ssl.getSocketFactory().createSocket();
        socket.connect(new InetSocketAddress("127.0.0.1", port), 2000);
        SSLParameters parameters = socket.getSSLParameters();
        parameters.setServerNames(serverName == null ? List.of() : List.of(new SNIHostName(serverName)));
        parameters.setApplicationProtocols(new String[] {"http/1.1"});
        socket.setSSLParameters(parameters);
        return socket;
    }

    /** Sends raw bytes to the plain-http listener and returns all bytes read until close. */
    static String rawHttp(String request) throws Exception {
        return rawHttp(proxy.httpPort(), request);
    }

    static String rawHttp(int port, String request) throws Exception {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress("127.0.0.1", port), 2000);
            return exchange(socket, request);
        }
    }

    private static String exchange(Socket socket, String request) throws IOException {
        socket.setSoTimeout(4000);
        OutputStream out = socket.getOutputStream();
        out.write(request.getBytes(StandardCharsets.ISO_8859_1));
        out.flush();
        InputStream in = socket.getInputStream();
        ByteArrayOutputStream received = new ByteArrayOutputStream();
        byte[] buffer = new byte[8192];
        try {
            int n;
            while ((n = in.read(buffer)) >= 0) {
                received.write(buffer, 0, n);
            }
        } catch (SocketTimeoutException e) {
            received.write("\n<<timeout: connection still open>>".getBytes(StandardCharsets.US_ASCII));
        } catch (IOException e) {
            // a reset after the response is as good as a close here
        }
        return received.toString(StandardCharsets.ISO_8859_1);
    }
}
