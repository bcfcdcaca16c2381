import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.OpenSslSessionContext;
import io.netty.handler.ssl.OpenSslSessionTicketKey;
import io.netty.handler.ssl.ReferenceCountedOpenSslEngine;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.netty.handler.ssl.util.SelfSignedCertificate;
import io.netty.internal.tcnative.SSL;
import io.netty.util.ReferenceCountUtil;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.ByteBuffer;
import java.security.SecureRandom;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult.HandshakeStatus;

/**
 * The CPU a BoringSSL server engine (netty-tcnative, as clicktls uses it) spends on one TLS 1.3 handshake, with no
 * network and no proxy around it: the floor under compare.sh's "resumed" and "full handshake" CPU per request. The
 * client is the JDK's, which like wrk's OpenSSL lists TLS_AES_256_GCM_SHA384 first and sends an X25519 key share, so
 * the server does the same work as under wrk: X25519, the SHA-384 key schedule, an ECDSA P-256 signature on full
 * handshakes, and the session tickets BoringSSL sends. Only the server engine's calls are timed (thread CPU time).
 *
 * <pre>java -cp proxy/target/clicktls.jar bench/tls/HandshakeCpuProbe.java [handshakes]</pre>
 */
final class HandshakeCpuProbe {

    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
    private static long serverNanos;

    public static void main(String[] args) throws Exception {
        int count = args.length > 0 ? Integer.parseInt(args[0]) : 3000;
        SelfSignedCertificate certificate = new SelfSignedCertificate("links.shop.test", "EC", 256);
        SslContext server = SslContextBuilder.forServer(certificate.key(), certificate.cert())
                .sslProvider(SslProvider.OPENSSL_REFCNT).protocols("TLSv1.3").build();
        SecureRandom random = new SecureRandom();
        byte[][] key = new byte[3][16];
        for (byte[] part : key) {
            random.nextBytes(part);
        }
        ((OpenSslSessionContext) server.sessionContext()).setTicketKeys(
                new OpenSslSessionTicketKey(key[0], key[1], key[2]));
        SSLContext client = SSLContext.getInstance("TLSv1.3");
        client.init(null, InsecureTrustManagerFactory.INSTANCE.getTrustManagers(), null);
        // twice each: the first round warms the JIT
        for (String mode : new String[] {"full", "resumed", "full", "resumed"}) {
            serverNanos = 0;
            int resumed = 0;
            for (int i = 0; i < count; i++) {
                // an engine without a peer host has no session to offer: a full handshake each time
                SSLEngine clientEngine = mode.equals("full")
                        ? client.createSSLEngine() : client.createSSLEngine("links.shop.test", 443);
                clientEngine.setUseClientMode(true);
                SSLEngine serverEngine = server.newEngine(ByteBufAllocator.DEFAULT);
                try {
                    handshake(clientEngine, serverEngine);
                    if (SSL.isSessionReused(((ReferenceCountedOpenSslEngine) serverEngine).sslPointer())) {
                        resumed++;
                    }
                } finally {
                    ReferenceCountUtil.release(serverEngine);
                }
            }
            System.out.printf("%-8s server engine CPU %6.1f µs per handshake (%d of %d resumed)%n",
                    mode, serverNanos / 1000.0 / count, resumed, count);
        }
        ReferenceCountUtil.release(server);
    }

    private static void handshake(SSLEngine client, SSLEngine server) throws Exception {
        ByteBuffer empty = ByteBuffer.allocate(0);
        ByteBuffer toServer = ByteBuffer.allocate(64 * 1024);
        ByteBuffer toClient = ByteBuffer.allocate(64 * 1024);
        ByteBuffer plain = ByteBuffer.allocate(64 * 1024);
        client.beginHandshake();
        server.beginHandshake();
        for (int round = 0; round < 20; round++) {
            client.wrap(empty, toServer);
            runTasks(client);
            toServer.flip();
            long start = THREADS.getCurrentThreadCpuTime();
            server.unwrap(toServer, plain);
            runTasks(server);
            server.wrap(empty, toClient); // after the client's Finished: the session tickets
            runTasks(server);
            serverNanos += THREADS.getCurrentThreadCpuTime() - start;
            toServer.compact();
            toClient.flip();
            client.unwrap(toClient, plain);
            toClient.compact();
            runTasks(client);
            plain.clear();
            if (round > 2 && finished(client) && finished(server)) {
                return;
            }
        }
        throw new IllegalStateException("handshake did not finish");
    }

    private static boolean finished(SSLEngine engine) {
        HandshakeStatus status = engine.getHandshakeStatus();
        return status == HandshakeStatus.NOT_HANDSHAKING || status == HandshakeStatus.FINISHED;
    }

    private static void runTasks(SSLEngine engine) {
        Runnable task;
        while ((task = engine.getDelegatedTask()) != null) {
            task.run();
        }
    }
}
