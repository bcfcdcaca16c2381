import io.clicktls.pki.CertifiedKey;
import io.clicktls.storage.CertificateStore;
import io.clicktls.storage.FileStorage;
import io.clicktls.tls.TlsContexts;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.OpenSslCachingX509KeyManagerFactory;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.netty.handler.ssl.util.KeyManagerFactoryWrapper;
import io.netty.util.ReferenceCountUtil;
import java.lang.management.ManagementFactory;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ConcurrentHashMap;
import javax.net.ssl.ExtendedSSLSession;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SNIServerName;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult.HandshakeStatus;
import javax.net.ssl.SSLSession;
import javax.net.ssl.X509ExtendedKeyManager;

/**
 * What a TLS context per certificate costs against one shared context whose key manager picks the certificate by
 * SNI, both with BoringSSL: memory per cached name (RSS and heap, after a full GC) and the server's CPU per handshake
 * (only the time spent in the server engine's calls; the client is an OpenSSL engine in the same thread, not timed).
 * Each handshake is a full one (no resumption) with a name's first handshake measured apart from later ones.
 *
 * <p>Runs against the clicktls jar and a storage folder of the 100k data set (read only):
 * {@code java -cp proxy/target/clicktls.jar bench/scale/ContextCostProbe.java STORAGE NAMES_FILE MODE COUNT}
 * with MODE {@code per-name} (TlsContexts, one SslContext per certificate, as served),
 * {@code shared} (one context; Netty's key material cache bounded to COUNT entries) or
 * {@code shared-uncached} (one context; key material converted on every handshake). One mode per JVM, so that the
 * memory figures do not mix.
 */
public final class ContextCostProbe {

    private ContextCostProbe() {}

    public static void main(String[] args) throws Exception {
        if (args.length < 4) {
            System.err.println("usage: ContextCostProbe STORAGE NAMES_FILE per-name|shared|shared-uncached COUNT");
            System.exit(64);
        }
        if (!OpenSsl.isAvailable()) {
            throw new IllegalStateException("BoringSSL is not available", OpenSsl.unavailabilityCause());
        }
        CertificateStore store = new CertificateStore(new FileStorage(Path.of(args[0])));
        List<String> names = Files.readAllLines(Path.of(args[1]));
        String mode = args[2];
        int count = Integer.parseInt(args[3]);
        int warm = 300;

        // all keys in memory first: both modes hold them, so they are not part of the difference
        List<CertifiedKey> certified = new ArrayList<>();
        store.load(names.get(0)).orElseThrow(); // class loading, not per name
        long heapBeforeKeys = heapUsed();
        for (String name : names.subList(0, warm + count)) {
            certified.add(store.load(name).orElseThrow());
        }
        System.out.printf(Locale.ROOT, "certificates and keys in memory (both modes): heap +%.1f KiB/name%n",
                (heapUsed() - heapBeforeKeys) / 1024.0 / (warm + count));
        SslContext client = SslContextBuilder.forClient()
                .sslProvider(SslProvider.OPENSSL)
                .trustManager(InsecureTrustManagerFactory.INSTANCE)
                .protocols("TLSv1.3")
                .build();

        Server server = switch (mode) {
            case "per-name" -> new PerName(new TlsContexts(SslProvider.OPENSSL_REFCNT, warm + count));
            case "shared" -> new Shared(count + warm, true);
            case "shared-uncached" -> new Shared(count + warm, false);
            default -> throw new IllegalArgumentException("mode: " + mode);
        };
        // warm-up: JIT, first use of every class; these names are not measured
        for (CertifiedKey key : certified.subList(0, warm)) {
            server.add(key);
            handshake(client, server, key.name());
            handshake(client, server, key.name());
        }
        long rssBefore = settledRss();
        long heapBefore = heapUsed();
        long[] addNanos = new long[count];
        long[] firstNanos = new long[count];
        for (int i = 0; i < count; i++) {
            CertifiedKey key = certified.get(warm + i);
            long start = System.nanoTime();
            server.add(key);
            addNanos[i] = System.nanoTime() - start;
            firstNanos[i] = handshake(client, server, key.name());
        }
        long rssAfter = settledRss();
        long heapAfter = heapUsed();
        long[] againNanos = new long[count];
        for (int i = 0; i < count; i++) {
            againNanos[i] = handshake(client, server, certified.get(warm + i).name());
        }
        System.out.printf(Locale.ROOT, "%s, %d names: RSS +%.1f KiB/name, heap +%.1f KiB/name%n", mode, count,
                (rssAfter - rssBefore) / 1024.0 / count, (heapAfter - heapBefore) / 1024.0 / count);
        System.out.printf(Locale.ROOT, "%s: add (context build or map put) us %s%n", mode, summary(addNanos));
        System.out.printf(Locale.ROOT, "%s: server CPU, first handshake of a name us %s%n", mode, summary(firstNanos));
        System.out.printf(Locale.ROOT, "%s: server CPU, later handshakes us %s%n", mode, summary(againNanos));
        ReferenceCountUtil.release(client);
    }

    /** The server side under test. */
    private interface Server {
        void add(CertifiedKey certified) throws Exception;

        SSLEngine newEngine();

        void done(SSLEngine engine);
    }

    /** One context per certificate, as {@link TlsContexts} builds and caches them for serving. */
    private static final class PerName implements Server {
        private final TlsContexts contexts;
        private final ConcurrentHashMap<String, CertifiedKey> byName = new ConcurrentHashMap<>();
        private SslContext current;

        PerName(TlsContexts contexts) {
            this.contexts = contexts;
        }

        @Override
        public void add(CertifiedKey certified) throws Exception {
            byName.put(certified.name(), certified);
            contexts.warm(certified);
        }

        SSLEngine engineFor(String name) {
            current = contexts.acquireCached(byName.get(name));
            return current.newEngine(ByteBufAllocator.DEFAULT);
        }

        @Override
        public SSLEngine newEngine() {
            throw new UnsupportedOperationException();
        }

        @Override
        public void done(SSLEngine engine) {
            ReferenceCountUtil.release(engine);
            ReferenceCountUtil.release(current);
        }
    }

    /** One context; the key manager answers the SNI of the handshake with that name's key and chain. */
    private static final class Shared implements Server {
        private final ConcurrentHashMap<String, Entry> byName = new ConcurrentHashMap<>();
        private final SslContext context;

        record Entry(PrivateKey key, X509Certificate[] chain) {}

        Shared(int maximumCached, boolean cached) throws Exception {
            KeyManagerFactory keys = new KeyManagerFactoryWrapper(new SniKeyManager(byName));
            context = SslContextBuilder.forServer(cached ? new OpenSslCachingX509KeyManagerFactory(keys, maximumCached)
                            : keys)
                    .sslProvider(SslProvider.OPENSSL_REFCNT)
                    .protocols("TLSv1.3", "TLSv1.2")
                    .clientAuth(ClientAuth.NONE)
                    .applicationProtocolConfig(new ApplicationProtocolConfig(ApplicationProtocolConfig.Protocol.ALPN,
                            ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                            ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT, "h2", "http/1.1"))
                    .build();
        }

        @Override
        public void add(CertifiedKey certified) {
            byName.put(certified.name(),
                    new Entry(certified.key(), certified.chain().toArray(new X509Certificate[0])));
        }

        @Override
        public SSLEngine newEngine() {
            return context.newEngine(ByteBufAllocator.DEFAULT);
        }

        @Override
        public void done(SSLEngine engine) {
            ReferenceCountUtil.release(engine);
        }
    }

    private static final class SniKeyManager extends X509ExtendedKeyManager {
        private final ConcurrentHashMap<String, Shared.Entry> byName;

        SniKeyManager(ConcurrentHashMap<String, Shared.Entry> byName) {
            this.byName = byName;
        }

        @Override
        public String chooseEngineServerAlias(String keyType, Principal[] issuers, SSLEngine engine) {
            SSLSession session = engine.getHandshakeSession();
            if (!(session instanceof ExtendedSSLSession extended) || !keyType.startsWith("EC")) {
                return null;
            }
            for (SNIServerName name : extended.getRequestedServerNames()) {
                if (name instanceof SNIHostName host) {
                    String alias = host.getAsciiName().toLowerCase(Locale.ROOT);
                    return byName.containsKey(alias) ? alias : null;
                }
            }
            return null;
        }

        @Override
        public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
            return null;
        }

        @Override
        public String[] getServerAliases(String keyType, Principal[] issuers) {
            return null;
        }

        @Override
        public X509Certificate[] getCertificateChain(String alias) {
            Shared.Entry entry = byName.get(alias);
            return entry == null ? null : entry.chain();
        }

        @Override
        public PrivateKey getPrivateKey(String alias) {
            Shared.Entry entry = byName.get(alias);
            return entry == null ? null : entry.key();
        }

        @Override
        public String[] getClientAliases(String keyType, Principal[] issuers) {
            return null;
        }

        @Override
        public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
            return null;
        }
    }

    /** @return nanoseconds spent in the server engine's calls */
    private static long handshake(SslContext client, Server server, String name) throws Exception {
        SSLEngine clientEngine = client.newEngine(ByteBufAllocator.DEFAULT, name, 443);
        SSLEngine serverEngine = server instanceof PerName perName ? perName.engineFor(name) : server.newEngine();
        try {
            ByteBuffer empty = ByteBuffer.allocate(0);
            ByteBuffer toServer = ByteBuffer.allocate(1 << 16);
            ByteBuffer toClient = ByteBuffer.allocate(1 << 16);
            ByteBuffer plain = ByteBuffer.allocate(1 << 16);
            long serverNanos = 0;
            clientEngine.beginHandshake();
            serverEngine.beginHandshake();
            for (int round = 0; round < 20; round++) {
                clientEngine.wrap(empty, toServer);
                runTasks(clientEngine);
                toServer.flip();
                long start = System.nanoTime();
                serverEngine.unwrap(toServer, plain);
                runTasks(serverEngine);
                serverEngine.wrap(empty, toClient);
                runTasks(serverEngine);
                serverNanos += System.nanoTime() - start;
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
            server.done(serverEngine);
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

    private static long settledRss() throws Exception {
        System.gc();
        Thread.sleep(300);
        System.gc();
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        }
        throw new IllegalStateException("no VmRSS");
    }

    private static long heapUsed() {
        System.gc();
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    private static String summary(long[] nanos) {
        long[] sorted = nanos.clone();
        Arrays.sort(sorted);
        return String.format(Locale.ROOT, "p50 %.0f p90 %.0f p99 %.0f max %.0f", q(sorted, 0.5), q(sorted, 0.9),
                q(sorted, 0.99), q(sorted, 1.0));
    }

    private static double q(long[] sorted, double quantile) {
        int index = (int) Math.ceil(quantile * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, index))] / 1e3;
    }
}
