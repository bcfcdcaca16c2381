import io.clicktls.pki.CertifiedKey;
import io.clicktls.storage.CertificateStore;
import io.clicktls.storage.FileStorage;
import io.clicktls.tls.TlsContexts;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.netty.util.ReferenceCountUtil;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult.HandshakeStatus;

/**
 * The CPU a name not in memory costs the proxy, stage by stage, in one thread with nothing else running: the storage
 * read ({@code CertificateStore.load}), the context build ({@code TlsContexts.warm}) and the server side of that
 * name's first handshake (its engine's calls only; the client is a BoringSSL engine in the same thread, not counted),
 * next to a later handshake of the same name. Thread CPU time, so a steady figure beside the noisy p99 of
 * {@code scale-100k.sh}. Reads the 100k data set (read only):
 * {@code java -cp proxy/target/clicktls.jar bench/scale/ColdLoadCostProbe.java STORAGE NAMES_FILE [COUNT] [WARM]}
 */
public final class ColdLoadCostProbe {

    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    private ColdLoadCostProbe() {}

    public static void main(String[] args) throws Exception {
        if (!OpenSsl.isAvailable()) {
            throw new IllegalStateException("BoringSSL is not available", OpenSsl.unavailabilityCause());
        }
        CertificateStore store = new CertificateStore(new FileStorage(Path.of(args[0])));
        List<String> names = Files.readAllLines(Path.of(args[1]));
        int count = args.length > 2 ? Integer.parseInt(args[2]) : 3000;
        int warm = args.length > 3 ? Integer.parseInt(args[3]) : 3000;
        int offset = args.length > 4 ? Integer.parseInt(args[4]) : 20_000;
        TlsContexts contexts = new TlsContexts(SslProvider.OPENSSL_REFCNT, warm + count);
        SslContext client = SslContextBuilder.forClient()
                .sslProvider(SslProvider.OPENSSL)
                .trustManager(InsecureTrustManagerFactory.INSTANCE)
                .protocols("TLSv1.3")
                .build();
        long[][] stages = new long[5][count];
        for (int i = 0; i < warm + count; i++) {
            String name = names.get(offset + i);
            long t0 = cpu();
            CertifiedKey certified = store.load(name).orElseThrow();
            long t1 = cpu();
            contexts.warm(certified);
            long t2 = cpu();
            long first = handshake(client, contexts, certified);
            long t3 = cpu();
            long again = handshake(client, contexts, certified);
            if (i >= warm) {
                int j = i - warm;
                stages[0][j] = t1 - t0;
                stages[1][j] = t2 - t1;
                stages[2][j] = first;
                stages[3][j] = again;
                stages[4][j] = (t1 - t0) + (t2 - t1) + first;
            }
        }
        String[] labels = {"load", "warm", "first handshake (server)", "later handshake (server)", "load+warm+first"};
        for (int s = 0; s < labels.length; s++) {
            System.out.printf(Locale.ROOT, "%-26s us %s%n", labels[s], summary(stages[s]));
        }
        ReferenceCountUtil.release(client);
    }

    private static long cpu() {
        return THREADS.getCurrentThreadCpuTime();
    }

    /** @return thread CPU nanoseconds spent in the server engine's calls (and in getting its context) */
    private static long handshake(SslContext client, TlsContexts contexts, CertifiedKey certified) throws Exception {
        String name = certified.name();
        SSLEngine clientEngine = client.newEngine(ByteBufAllocator.DEFAULT, name, 443);
        long serverNanos = 0;
        long start = cpu();
        SslContext context = contexts.acquireCached(certified);
        SSLEngine serverEngine = context.newEngine(ByteBufAllocator.DEFAULT);
        serverNanos += cpu() - start;
        try {
            ByteBuffer empty = ByteBuffer.allocate(0);
            ByteBuffer toServer = ByteBuffer.allocate(1 << 16);
            ByteBuffer toClient = ByteBuffer.allocate(1 << 16);
            ByteBuffer plain = ByteBuffer.allocate(1 << 16);
            clientEngine.beginHandshake();
            for (int round = 0; round < 20; round++) {
                clientEngine.wrap(empty, toServer);
                runTasks(clientEngine);
                toServer.flip();
                start = cpu();
                serverEngine.unwrap(toServer, plain);
                runTasks(serverEngine);
                serverEngine.wrap(empty, toClient);
                runTasks(serverEngine);
                serverNanos += cpu() - start;
                toServer.compact();
                toClient.flip();
                clientEngine.unwrap(toClient, plain);
                runTasks(clientEngine);
                toClient.compact();
                plain.clear();
                if (done(clientEngine) && done(serverEngine)) {
                    X509Certificate leaf = (X509Certificate) clientEngine.getSession().getPeerCertificates()[0];
                    if (!leaf.getSubjectAlternativeNames().toString().contains(name)) {
                        throw new IllegalStateException("wrong certificate for " + name);
                    }
                    return serverNanos;
                }
            }
            throw new IllegalStateException("handshake for " + name + " did not finish");
        } finally {
            ReferenceCountUtil.release(clientEngine);
            ReferenceCountUtil.release(serverEngine);
            ReferenceCountUtil.release(context);
        }
    }

    private static void runTasks(SSLEngine engine) {
        for (Runnable task = engine.getDelegatedTask(); task != null; task = engine.getDelegatedTask()) {
            task.run();
        }
    }

    private static boolean done(SSLEngine engine) {
        HandshakeStatus status = engine.getHandshakeStatus();
        return status == HandshakeStatus.NOT_HANDSHAKING || status == HandshakeStatus.FINISHED;
    }

    private static String summary(long[] nanos) {
        long[] sorted = nanos.clone();
        Arrays.sort(sorted);
        double mean = Arrays.stream(nanos).average().orElse(0) / 1e3;
        return String.format(Locale.ROOT, "p50 %6.0f p90 %6.0f p99 %6.0f mean %6.0f", q(sorted, 0.5), q(sorted, 0.9),
                q(sorted, 0.99), mean);
    }

    private static double q(long[] sorted, double quantile) {
        int index = (int) Math.ceil(quantile * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, index))] / 1e3;
    }
}
