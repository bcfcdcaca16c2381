package io.clicktls.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.clicktls.acme.Challenges;
import io.clicktls.certificates.CertificateResolver;
import io.clicktls.pki.CertifiedKey;
import io.clicktls.testing.InternalCaStack;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Real TLS handshakes against a Netty server whose pipeline is the selection handler and a tiny answering handler. */
class TlsHandshakeIT {

    private static EventLoopGroup group;

    @TempDir
    Path directory;

    private InternalCaStack pki;
    private Channel server;
    private CertificateResolver resolver;
    private final TestChallenges challenges = new TestChallenges();

    @BeforeAll
    static void startGroup() {
        group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
    }

    @AfterAll
    static void stopGroup() {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    @BeforeEach
    void setUp() throws Exception {
        pki = InternalCaStack.create(directory, "links.shop.test", "localhost", "*.wild.test");
    }

    @AfterEach
    void tearDown() throws Exception {
        if (server != null) {
            server.close().syncUninterruptibly();
        }
        pki.close();
    }

    private int start(SslProvider provider) {
        return start(provider, pki.blocking);
    }

    /** @param blocking the node's executor for issuance and context builds; challenge lookups use pki.blocking */
    private int start(SslProvider provider, Executor blocking) {
        if (provider == SslProvider.OPENSSL_REFCNT) {
            assumeTrue(OpenSsl.isAvailable(), "BoringSSL is not available here");
        }
        TlsContexts contexts = InternalCaStack.contexts(provider);
        resolver = pki.resolver(contexts);
        TlsSelectionHandler.Shared shared = new TlsSelectionHandler.Shared(
                resolver, contexts, challenges, blocking, pki.blocking, pki.config, pki.metrics, null);
        server = new ServerBootstrap()
                .group(group)
                .channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel channel) {
                        channel.pipeline()
                                .addLast("tls", new TlsSelectionHandler(shared))
                                .addLast("answer", new Answer());
                    }
                })
                .bind(new InetSocketAddress("127.0.0.1", 0))
                .syncUninterruptibly()
                .channel();
        return ((InetSocketAddress) server.localAddress()).getPort();
    }

    @EachProvider
    void aConfiguredNameGetsItsOwnCertificateOnTheFirstHandshake(SslProvider provider) throws Exception {
        int port = start(provider);
        RecordingTrust trust = new RecordingTrust(pki, false);

        String answer = talk(port, "links.shop.test", List.of("http/1.1", "h2"), trust);

        assertThat(answer).isEqualTo("pong h2"); // the server's ALPN order wins
        X509Certificate presented = trust.presented.get(0)[0];
        assertThat(presented.getSubjectAlternativeNames()).containsExactly(List.of(2, "links.shop.test"));
        assertThat(pki.issuer.calls()).isEqualTo(1);
        assertThat(handshakes("ok")).isEqualTo(1.0);
    }

    @EachProvider
    void laterHandshakesReuseTheCertificateWithoutIssuing(SslProvider provider) throws Exception {
        int port = start(provider);
        RecordingTrust trust = new RecordingTrust(pki, false);

        talk(port, "links.shop.test", List.of("http/1.1"), trust);
        String second = talk(port, "links.shop.test", List.of("http/1.1"), trust);

        assertThat(second).isEqualTo("pong http/1.1");
        assertThat(trust.presented.get(1)[0]).isEqualTo(trust.presented.get(0)[0]);
        assertThat(pki.issuer.calls()).isEqualTo(1);
    }

    @EachProvider
    void anUnknownNameFailsTheHandshakeWithoutAnyCertificateOrIssuance(SslProvider provider) throws Exception {
        int port = start(provider);
        RecordingTrust trust = new RecordingTrust(pki, true);

        assertThatThrownBy(() -> talk(port, "evil.example.com", List.of("h2"), trust))
                .isInstanceOf(SSLException.class)
                .hasMessageContaining("unrecognized_name");
        assertThat(trust.presented).isEmpty();
        assertThat(pki.issuer.calls()).isZero();
        assertThat(handshakes("unknown_name")).isEqualTo(1.0);
    }

    @EachProvider
    void aHandshakeWithoutSniFailsWithoutAnyCertificate(SslProvider provider) throws Exception {
        int port = start(provider);
        // Serve a name first: even then, a client without SNI must not get that certificate.
        talk(port, "links.shop.test", List.of("h2"), new RecordingTrust(pki, false));
        RecordingTrust trust = new RecordingTrust(pki, true);

        assertThatThrownBy(() -> talk(port, null, List.of("h2"), trust)).isInstanceOf(SSLException.class);
        assertThat(trust.presented).isEmpty();
        assertThat(handshakes("no_sni")).isEqualTo(1.0);
    }

    @EachProvider
    void aClientOfferingOnlyAcmeTls1GetsTheChallengeCertificate(SslProvider provider) throws Exception {
        assertTheChallengeCertificateIsAnswered(start(provider));
        assertThat(challenges.askedFor).containsExactly("links.shop.test");
        assertThat(pki.issuer.calls()).isZero();
    }

    @EachProvider
    void theChallengeCertificateIsAnsweredWhileOrdersFillTheBlockingExecutor(SslProvider provider) throws Exception {
        // A burst of new names queues minutes of orders on the blocking executor; the CA's validation gives up after
        // seconds. Here that executor takes tasks and never runs them: the answer must not depend on it.
        List<Runnable> neverRun = new CopyOnWriteArrayList<>();
        assertTheChallengeCertificateIsAnswered(start(provider, neverRun::add));
        assertThat(neverRun).isEmpty();
    }

    /** A tls-alpn-01 validation's handshake (ALPN acme-tls/1 only) gets the challenge certificate published now. */
    private void assertTheChallengeCertificateIsAnswered(int port) throws Exception {
        CertifiedKey challenge = pki.internalIssuer.issue("links.shop.test");
        challenges.certificate = challenge;
        RecordingTrust trust = new RecordingTrust(pki, true);

        String answer = talk(port, "links.shop.test", List.of("acme-tls/1"), trust);

        assertThat(answer).isEqualTo("pong acme-tls/1");
        assertThat(trust.presented.get(0)[0]).isEqualTo(challenge.leaf());
    }

    @EachProvider
    void anAcmeTls1ClientWithoutAChallengeInProgressFails(SslProvider provider) throws Exception {
        int port = start(provider);
        RecordingTrust trust = new RecordingTrust(pki, true);

        assertThatThrownBy(() -> talk(port, "links.shop.test", List.of("acme-tls/1"), trust))
                .isInstanceOf(SSLException.class);
        assertThat(trust.presented).isEmpty();
        assertThat(pki.issuer.calls()).isZero();
    }

    @EachProvider
    void aSlowIssuanceTimesTheHandshakeOutButStillFinishes(SslProvider provider) throws Exception {
        int port = start(provider);
        pki.config.replace(InternalCaStack.config(directory, Duration.ofMillis(200), List.of("links.shop.test")));
        pki.issuer.delay(Duration.ofMillis(1000));
        RecordingTrust trust = new RecordingTrust(pki, true);

        assertThatThrownBy(() -> talk(port, "links.shop.test", List.of("h2"), trust))
                .isInstanceOf(SSLException.class);
        assertThat(handshakes("timeout")).isEqualTo(1.0);
        // Timing out did not cancel the issuance: the next client gets the certificate.
        CertifiedKey issued = resolver.certificate("links.shop.test").get(10, TimeUnit.SECONDS);
        assertThat(talk(port, "links.shop.test", List.of("h2"), new RecordingTrust(pki, false)))
                .isEqualTo("pong h2");
        assertThat(pki.issuer.calls()).isEqualTo(1);
        assertThat(issued.name()).isEqualTo("links.shop.test");
    }

    @EachProvider
    void afterARenewalNewHandshakesGetTheNewCertificate(SslProvider provider) throws Exception {
        int port = start(provider);
        RecordingTrust trust = new RecordingTrust(pki, false);
        talk(port, "links.shop.test", List.of("h2"), trust);

        CertifiedKey renewed = resolver.renew("links.shop.test").get(10, TimeUnit.SECONDS);
        talk(port, "links.shop.test", List.of("h2"), trust);

        assertThat(trust.presented.get(1)[0]).isEqualTo(renewed.leaf());
        assertThat(trust.presented.get(1)[0]).isNotEqualTo(trust.presented.get(0)[0]);
    }

    @Test
    void somethingThatIsNotTlsGetsADecodeErrorAlertAndIsClosed() throws Exception {
        int port = start(SslProvider.JDK);
        try (Socket socket = new Socket("127.0.0.1", port)) {
            socket.setSoTimeout(5000);
            socket.getOutputStream()
                    .write("GET / HTTP/1.1\r\nHost: links.shop.test\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            byte[] answer = socket.getInputStream().readAllBytes();
            assertThat(answer).containsExactly(21, 3, 3, 0, 2, 2, 50);
        }
        assertThat(handshakes("malformed")).isEqualTo(1.0);
        assertThat(pki.issuer.calls()).isZero();
    }

    @Test
    void theJdkHttpClientAcceptsTheLeafWhenTrustingTheRoot() throws Exception {
        int port = start(TlsContexts.preferredProvider());
        HttpClient client = HttpClient.newBuilder()
                .sslContext(pki.clientContext())
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5))
                .build();

        HttpResponse<String> response = client.send(
                HttpRequest.newBuilder(URI.create("https://localhost:" + port + "/"))
                        .timeout(Duration.ofSeconds(10))
                        .build(),
                HttpResponse.BodyHandlers.ofString());

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.body()).isEqualTo("hello");
    }

    @Test
    void curlAcceptsTheLeafWhenTrustingTheRoot() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/curl")), "curl is not installed");
        int port = start(TlsContexts.preferredProvider());

        Process curl = new ProcessBuilder(
                        "/usr/bin/curl",
                        "--silent",
                        "--show-error",
                        "--http1.1",
                        "--max-time",
                        "10",
                        "--cacert",
                        directory.resolve("ca/root.pem").toString(),
                        "--resolve",
                        "links.shop.test:" + port + ":127.0.0.1",
                        "https://links.shop.test:" + port + "/")
                .redirectErrorStream(true)
                .start();
        String output = new String(curl.getInputStream().readAllBytes(), StandardCharsets.UTF_8);

        assertThat(curl.waitFor(15, TimeUnit.SECONDS)).isTrue();
        assertThat(output).isEqualTo("hello");
        assertThat(curl.exitValue()).isZero();
    }

    @Test
    void opensslVerifiesTheChainAndNegotiatesH2() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/openssl")), "openssl is not installed");
        int port = start(TlsContexts.preferredProvider());

        String output =
                openssl(port, "-verify_hostname", "links.shop.test", "-verify_return_error", "-alpn", "h2,http/1.1");

        assertThat(output).contains("Verify return code: 0 (ok)", "ALPN protocol: h2");
    }

    private double handshakes(String result) {
        String prefix = "clicktls_tls_handshakes_total{result=\"" + result + "\"} ";
        // ok is counted when the SslHandler's handshake future completes, a moment after the client's handshake.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        double value = 0;
        while (System.nanoTime() < deadline) {
            value = pki.metrics
                    .scrape()
                    .lines()
                    .filter(line -> line.startsWith(prefix))
                    .mapToDouble(line -> Double.parseDouble(line.substring(prefix.length())))
                    .findFirst()
                    .orElse(0);
            if (value > 0) {
                break;
            }
            Thread.onSpinWait();
        }
        return value;
    }

    @EachProvider
    void sessionTicketsLetAReturningClientResume(SslProvider provider) throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/openssl")), "openssl is not installed");
        int port = start(provider);
        Path session = directory.resolve("session.pem");

        for (String version : List.of("-tls1_3", "-tls1_2")) {
            Files.deleteIfExists(session);
            String first = openssl(port, version, "-sess_out", session.toString());
            String second = openssl(port, version, "-sess_in", session.toString());

            assertThat(first).as(version).contains("New, TLSv1.", "pong");
            assertThat(second).as(version).contains("Reused, TLSv1.", "pong");
        }
    }

    private String openssl(int port, String... options) throws Exception {
        List<String> command = new java.util.ArrayList<>(List.of(
                "/usr/bin/openssl",
                "s_client",
                "-connect",
                "127.0.0.1:" + port,
                "-servername",
                "links.shop.test",
                "-CAfile",
                directory.resolve("ca/root.pem").toString(),
                "-ign_eof"));
        command.addAll(List.of(options));
        Process openssl = new ProcessBuilder(command).redirectErrorStream(true).start();
        // TLS 1.3 tickets come after the handshake, with the server's first data (BoringSSL defers them to the next
        // write): send a line and read until the server hangs up after answering.
        openssl.getOutputStream().write("ping\n".getBytes(StandardCharsets.US_ASCII));
        openssl.getOutputStream().close();
        String output = new String(openssl.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(openssl.waitFor(15, TimeUnit.SECONDS)).isTrue();
        return output;
    }

    /** Handshakes, sends "ping", returns the answer. */
    private static String talk(int port, String serverName, List<String> alpn, RecordingTrust trust) throws Exception {
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, new TrustManager[] {trust}, null);
        return talk(context, port, serverName, alpn, trust);
    }

    private static String talk(SSLContext context, int port, String serverName, List<String> alpn, RecordingTrust trust)
            throws Exception {
        try (SSLSocket socket = (SSLSocket) context.getSocketFactory().createSocket("127.0.0.1", port)) {
            socket.setSoTimeout(10_000);
            SSLParameters parameters = socket.getSSLParameters();
            parameters.setServerNames(serverName == null ? List.of() : List.of(new SNIHostName(serverName)));
            parameters.setApplicationProtocols(alpn.toArray(String[]::new));
            parameters.setEndpointIdentificationAlgorithm(trust.trustAll ? null : "HTTPS");
            socket.setSSLParameters(parameters);
            socket.startHandshake();
            socket.getOutputStream().write("ping".getBytes(StandardCharsets.US_ASCII));
            socket.getOutputStream().flush();
            InputStream in = socket.getInputStream();
            ByteArrayOutputStream answer = new ByteArrayOutputStream();
            for (int b = in.read(); b >= 0 && b != '\n'; b = in.read()) {
                answer.write(b);
            }
            return answer.toString(StandardCharsets.US_ASCII);
        }
    }

    /** Answers "pong <alpn>\n" to anything and hangs up, or sends a tiny HTTP/1.1 response to a GET. */
    private static final class Answer extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf in = (ByteBuf) msg;
            String text = in.toString(StandardCharsets.US_ASCII);
            in.release();
            if (text.startsWith("GET ")) {
                String response = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";
                ctx.writeAndFlush(Unpooled.copiedBuffer(response, StandardCharsets.US_ASCII))
                        .addListener(ChannelFutureListener.CLOSE);
                return;
            }
            SslHandler ssl = ctx.pipeline().get(SslHandler.class);
            assertThat(ctx.pipeline().get(TlsSelectionHandler.SSL_HANDLER_NAME)).isSameAs(ssl);
            String pong = "pong " + ssl.applicationProtocol() + "\n";
            ctx.writeAndFlush(Unpooled.copiedBuffer(pong, StandardCharsets.US_ASCII))
                    .addListener(ChannelFutureListener.CLOSE);
        }
    }

    /** Trusts the internal root (or everything) and records every chain a server presents. */
    private static final class RecordingTrust extends X509ExtendedTrustManager {
        final List<X509Certificate[]> presented = new CopyOnWriteArrayList<>();
        final boolean trustAll;
        private final X509ExtendedTrustManager delegate;

        RecordingTrust(InternalCaStack pki, boolean trustAll) throws Exception {
            this.trustAll = trustAll;
            TrustManagerFactory factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            factory.init(pki.trustStore());
            this.delegate = (X509ExtendedTrustManager) factory.getTrustManagers()[0];
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
                throws java.security.cert.CertificateException {
            record(chain, () -> delegate.checkServerTrusted(chain, authType, socket));
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
                throws java.security.cert.CertificateException {
            record(chain, () -> delegate.checkServerTrusted(chain, authType, engine));
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType)
                throws java.security.cert.CertificateException {
            record(chain, () -> delegate.checkServerTrusted(chain, authType));
        }

        /** Keeps the chain, then lets the delegate judge it unless everything is trusted. */
        private void record(X509Certificate[] chain, DelegateCheck check)
                throws java.security.cert.CertificateException {
            presented.add(chain);
            if (!trustAll) {
                check.run();
            }
        }

        /** One of the delegate's {@code checkServerTrusted} overloads. */
        @FunctionalInterface
        private interface DelegateCheck {
            void run() throws java.security.cert.CertificateException;
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) {
            throw new UnsupportedOperationException();
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    }

    /** Challenges with one tls-alpn-01 certificate, for any name, once set. */
    private static final class TestChallenges implements Challenges {
        volatile CertifiedKey certificate;
        final List<String> askedFor = new CopyOnWriteArrayList<>();

        @Override
        public Optional<String> httpKeyAuthorization(String token) {
            return Optional.empty();
        }

        @Override
        public Optional<CertifiedKey> tlsAlpnCertificate(String name) {
            askedFor.add(name);
            return Optional.ofNullable(certificate);
        }
    }
}
