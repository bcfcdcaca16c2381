package io.clicktls.tls;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.clicktls.pki.CertifiedKey;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.OpenSslCachingX509KeyManagerFactory;
import io.netty.handler.ssl.ReferenceCountedOpenSslContext;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.util.KeyManagerFactoryWrapper;
import io.netty.handler.ssl.util.TrustManagerFactoryWrapper;
import io.netty.util.IllegalReferenceCountException;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.ReferenceCounted;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECKey;
import java.security.interfaces.RSAKey;
import java.time.Duration;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.atomic.AtomicBoolean;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult.HandshakeStatus;
import javax.net.ssl.SSLException;
import javax.net.ssl.X509ExtendedKeyManager;
import javax.net.ssl.X509ExtendedTrustManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Server {@link SslContext}s built from {@link CertifiedKey}s: TLS 1.3 and 1.2 only, ALPN {@code h2} then
 * {@code http/1.1} (the server's order wins), session tickets on with {@link SessionTicketKeys}. BoringSSL
 * (netty-tcnative) when it loads, else the JDK's TLS. BoringSSL contexts are reference-counted: this cache holds one
 * reference, each engine another, so a context evicted here is freed only once the last connection using it is gone.
 *
 * <p>Contexts are cached per certificate object (by identity, held weakly: once the certificate cache drops a
 * certificate, its context goes too), bounded in number because each native context costs memory.
 *
 * <p>tls-alpn-01 challenge contexts are cached apart, by challenge certificate, so that the CA's several validation
 * connections (Pebble opens three, Let's Encrypt validates from several places) share one; {@link #prepareChallenge}
 * builds it when the challenge is published, before the CA connects, and {@link #releaseChallenge} frees it when the
 * challenge is withdrawn.
 *
 * <p>What a build costs, and why it is cheap here (bench/acme/ContextBuildCost.java): no client certificate is ever
 * requested, so server contexts get a trust manager that accepts no issuers, instead of Netty's default, which hands
 * the JDK's whole CA list to BoringSSL for every context; and with BoringSSL the key reaches Netty through a key
 * manager of ours instead of an in-memory PKCS#12 key store, whose key encryption (PBKDF2, 10,000 iterations) Netty
 * pays twice per context. Together about 13 ms → under 1 ms per context.
 *
 * <p>Contexts handed out by {@link #acquire}, {@link #acquireCached} and {@link #challengeContext} are retained for
 * the caller, who releases them ({@link ReferenceCountUtil#release(Object)}) once its {@code SslHandler} exists.
 * Thread-safe.
 */
public final class TlsContexts {

    /** The ALPN protocol of the tls-alpn-01 challenge (RFC 8737). */
    public static final String ACME_TLS_1 = "acme-tls/1";
    /** Default bound on cached contexts. */
    public static final int DEFAULT_MAXIMUM_SIZE = 20_000;
    /** Bound on cached challenge contexts: validations in flight at once, with a wide margin. */
    static final int CHALLENGE_MAXIMUM_SIZE = 1_000;
    /** A challenge context nobody withdrew (an order thread that died) is freed this long after its last use. */
    static final Duration CHALLENGE_IDLE = Duration.ofMinutes(10);

    private static final String WARM_UP_NAME = "warm-up.invalid";

    private static final Logger log = LoggerFactory.getLogger(TlsContexts.class);
    /** Never consulted for a verdict (no client certificate is requested); it only tells Netty "no CA list". */
    private static final TrustManagerFactoryWrapper NO_CLIENT_CERTIFICATES =
            new TrustManagerFactoryWrapper(new NoClientCertificates());

    private static final AtomicBoolean warnedJdk = new AtomicBoolean();

    private final SslProvider provider;
    private final Cache<CertifiedKey, SslContext> contexts;
    private final Cache<X509Certificate, SslContext> challengeContexts;
    private final SessionTicketKeys ticketKeys;

    /** BoringSSL if available, else the JDK; at most {@link #DEFAULT_MAXIMUM_SIZE} contexts. */
    public TlsContexts() {
        this(preferredProvider(), DEFAULT_MAXIMUM_SIZE);
    }

    /** @param provider {@link SslProvider#OPENSSL_REFCNT} or {@link SslProvider#JDK} */
    public TlsContexts(SslProvider provider, int maximumSize) {
        this(provider, maximumSize, SessionTicketKeys.random());
    }

    /** @param ticketKeys the session ticket keys of every context (share the secret to share tickets) */
    public TlsContexts(SslProvider provider, int maximumSize, SessionTicketKeys ticketKeys) {
        this.provider = provider;
        this.ticketKeys = ticketKeys;
        this.contexts = Caffeine.newBuilder()
                .weakKeys()
                .maximumSize(maximumSize)
                .executor(Runnable::run) // release at once on eviction: cheap, and tests can see it
                .<CertifiedKey, SslContext>removalListener((key, context, cause) -> ReferenceCountUtil.release(context))
                .build();
        // keyed by the certificate, not the CertifiedKey object: a node that did not order reads the challenge from
        // storage as a new object for every validation connection
        this.challengeContexts = Caffeine.newBuilder()
                .maximumSize(CHALLENGE_MAXIMUM_SIZE)
                .expireAfterAccess(CHALLENGE_IDLE)
                .executor(Runnable::run)
                .<X509Certificate, SslContext>removalListener(
                        (key, context, cause) -> ReferenceCountUtil.release(context))
                .build();
    }

    /** BoringSSL when netty-tcnative loads here, else the JDK (saying so once, at WARN). */
    public static SslProvider preferredProvider() {
        if (OpenSsl.isAvailable()) {
            return SslProvider.OPENSSL_REFCNT;
        }
        if (warnedJdk.compareAndSet(false, true)) {
            log.warn(
                    "BoringSSL (netty-tcnative) is not available here ({}); using the JDK's TLS, which is slower",
                    String.valueOf(OpenSsl.unavailabilityCause()));
        }
        return SslProvider.JDK;
    }

    public SslProvider provider() {
        return provider;
    }

    /**
     * The context for a certificate, retained for the caller; builds it on a miss. Blocking work on a miss (it parses
     * the key and may allocate native memory): call from the blocking executor.
     */
    public SslContext acquire(CertifiedKey certified) throws SSLException {
        rotateTicketKeysIfDue();
        while (true) {
            SslContext context = contexts.getIfPresent(certified);
            if (context == null) {
                SslContext built = build(certified, ApplicationProtocolNames.HTTP_2, ApplicationProtocolNames.HTTP_1_1);
                context = contexts.asMap().putIfAbsent(certified, built);
                if (context == null) {
                    context = built;
                } else {
                    ReferenceCountUtil.release(built); // another thread built one first
                }
            }
            if (retain(context)) {
                return context;
            }
            contexts.asMap().remove(certified, context); // freed by an eviction just now: build anew
        }
    }

    /** The cached context retained for the caller, or {@code null}. Runs on event loops: never builds. */
    public SslContext acquireCached(CertifiedKey certified) {
        rotateTicketKeysIfDue();
        SslContext context = contexts.getIfPresent(certified);
        return context != null && retain(context) ? context : null;
    }

    /** Builds and caches the context ahead of the first handshake. Blocking: call from the blocking executor. */
    public void warm(CertifiedKey certified) throws SSLException {
        ReferenceCountUtil.release(acquire(certified));
    }

    /** Drops a certificate's context; connections using it keep it until they close. */
    public void invalidate(CertifiedKey certified) {
        contexts.invalidate(certified);
    }

    public long size() {
        return contexts.estimatedSize();
    }

    /**
     * Drops every cached context, certificates' and challenges' alike: at shutdown, so that native memory is freed
     * as soon as the last connection using a context is gone rather than never. The instance stays usable.
     */
    public void clear() {
        contexts.invalidateAll();
        challengeContexts.invalidateAll();
    }

    /**
     * The context for a tls-alpn-01 challenge certificate (ALPN {@code acme-tls/1} only), retained for the caller, who
     * releases it once its {@code SslHandler} exists. Cached per certificate: concurrent validation connections wait
     * for one build. Blocking on a miss: call from the blocking executor.
     */
    public SslContext challengeContext(CertifiedKey certified) throws SSLException {
        X509Certificate certificate = certified.leaf();
        while (true) {
            SslContext context;
            try {
                context = challengeContexts.get(certificate, key -> {
                    try {
                        return build(certified, ACME_TLS_1);
                    } catch (SSLException e) {
                        throw new UncheckedIOException(e);
                    }
                });
            } catch (UncheckedIOException e) {
                throw (SSLException) e.getCause();
            }
            if (retain(context)) {
                return context;
            }
            challengeContexts.asMap().remove(certificate, context); // freed by an eviction just now: build anew
        }
    }

    /**
     * Builds a challenge certificate's context ahead of the CA's validation connections. Called when the challenge is
     * published, on the issuing thread (blocking). Never throws: a failure is logged, and the first validation
     * connection builds the context itself.
     */
    public void prepareChallenge(CertifiedKey certified) {
        try {
            ReferenceCountUtil.release(challengeContext(certified));
        } catch (SSLException | RuntimeException e) {
            log.warn("cannot prepare the tls-alpn-01 context for {}: {}", certified.name(), e.toString());
        }
    }

    /** Frees a challenge certificate's context once the challenge is withdrawn; open connections keep theirs. */
    public void releaseChallenge(CertifiedKey certified) {
        challengeContexts.invalidate(certified.leaf());
    }

    /** Challenge contexts cached now. */
    public long challengeContextCount() {
        challengeContexts.cleanUp();
        return challengeContexts.estimatedSize();
    }

    /**
     * Loads and compiles the code a first handshake runs, so that a customer's first handshake after a start does not
     * pay for it: builds a server context and a challenge context for a throwaway certificate (never cached, never
     * served) and runs one TLS handshake against the server context in memory. Blocking: call from the blocking
     * executor at startup. Never throws: it is an optimisation, a failure is logged.
     *
     * @return whether the handshake completed
     */
    public boolean warmUp(CertifiedKey throwaway) {
        long start = System.nanoTime();
        SslContext server = null;
        SslContext challenge = null;
        SslContext client = null;
        SSLEngine serverEngine = null;
        SSLEngine clientEngine = null;
        try {
            server = build(throwaway, ApplicationProtocolNames.HTTP_2, ApplicationProtocolNames.HTTP_1_1);
            challenge = build(throwaway, ACME_TLS_1);
            client = SslContextBuilder.forClient()
                    .sslProvider(provider)
                    .protocols("TLSv1.3", "TLSv1.2")
                    .trustManager(throwaway.leaf()) // a real verification, of the one certificate it talks to
                    .applicationProtocolConfig(alpn(ApplicationProtocolNames.HTTP_2))
                    .build();
            serverEngine = server.newEngine(ByteBufAllocator.DEFAULT);
            clientEngine = client.newEngine(ByteBufAllocator.DEFAULT, WARM_UP_NAME, 443);
            handshakeInMemory(clientEngine, serverEngine);
            log.debug("TLS warm-up ({}) took {} ms", provider, (System.nanoTime() - start) / 1_000_000);
            return true;
        } catch (Exception e) {
            log.warn("TLS warm-up failed (the first handshakes will be slower): {}", e.toString());
            return false;
        } finally {
            ReferenceCountUtil.release(clientEngine);
            ReferenceCountUtil.release(serverEngine);
            ReferenceCountUtil.release(client);
            ReferenceCountUtil.release(challenge);
            ReferenceCountUtil.release(server);
        }
    }

    /** Drives two engines through a handshake by handing their records across, with no network in between. */
    static void handshakeInMemory(SSLEngine client, SSLEngine server) throws SSLException {
        int size = Math.max(
                client.getSession().getPacketBufferSize(), server.getSession().getPacketBufferSize());
        ByteBuffer empty = ByteBuffer.allocate(0);
        ByteBuffer toServer = ByteBuffer.allocate(4 * size);
        ByteBuffer toClient = ByteBuffer.allocate(4 * size);
        ByteBuffer plain = ByteBuffer.allocate(4 * size);
        client.beginHandshake();
        server.beginHandshake();
        for (int round = 0; round < 20; round++) {
            client.wrap(empty, toServer);
            runTasks(client);
            toServer.flip();
            server.unwrap(toServer, plain);
            toServer.compact();
            runTasks(server);
            server.wrap(empty, toClient);
            runTasks(server);
            toClient.flip();
            client.unwrap(toClient, plain);
            toClient.compact();
            runTasks(client);
            plain.clear();
            if (finished(client) && finished(server)) {
                return;
            }
        }
        throw new SSLException("in-memory handshake did not finish: client " + client.getHandshakeStatus() + ", server "
                + server.getHandshakeStatus());
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

    private SslContext build(CertifiedKey certified, String... protocols) throws SSLException {
        X509Certificate[] chain = certified.chain().toArray(new X509Certificate[0]);
        SslContextBuilder builder = provider != SslProvider.JDK && OpenSsl.supportsKeyManagerFactory()
                // the key as it is, without the PKCS#12 round trip; Netty converts it for BoringSSL once, on the
                // first handshake, and keeps the result with the context
                ? SslContextBuilder.forServer(new OpenSslCachingX509KeyManagerFactory(
                        new KeyManagerFactoryWrapper(new CertifiedKeyManager(certified.key(), chain))))
                // the JDK's TLS signs with JDK key objects, which the key store round trip guarantees
                : SslContextBuilder.forServer(certified.key(), chain);
        SslContext context = builder.sslProvider(provider)
                .protocols("TLSv1.3", "TLSv1.2")
                .clientAuth(ClientAuth.NONE)
                .trustManager(NO_CLIENT_CERTIFICATES)
                .applicationProtocolConfig(alpn(protocols))
                .build();
        if (context instanceof ReferenceCountedOpenSslContext openSsl) {
            // The certificate callback (our key manager, in memory) runs inside the handshake call instead of
            // suspending it, handing a task to the SslHandler and resuming it with a second handshake call.
            openSsl.setUseTasks(false);
        }
        ticketKeys.apply(context, certified.name());
        return context;
    }

    private static ApplicationProtocolConfig alpn(String... protocols) {
        return new ApplicationProtocolConfig(
                ApplicationProtocolConfig.Protocol.ALPN,
                ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
                protocols);
    }

    /**
     * Once per key rotation period, gives every cached context its new ticket keys, off the calling thread (an event
     * loop): with many contexts it takes a while.
     */
    private void rotateTicketKeysIfDue() {
        if (provider != SslProvider.JDK && ticketKeys.rotationDue()) {
            ForkJoinPool.commonPool().execute(() -> contexts.asMap().forEach((certified, context) -> {
                if (retain(context)) { // not freed by an eviction meanwhile
                    try {
                        ticketKeys.apply(context, certified.name());
                    } finally {
                        ReferenceCountUtil.release(context);
                    }
                }
            }));
        }
    }

    private static boolean retain(SslContext context) {
        if (!(context instanceof ReferenceCounted counted)) {
            return true;
        }
        try {
            counted.retain();
            return true;
        } catch (IllegalReferenceCountException e) {
            return false;
        }
    }

    /**
     * Serves one key and chain to Netty, for whichever key type the handshake asks for that the key is. Returns the
     * same chain array and key on every call: Netty keeps the key material it converted for as long as they are the
     * same instances.
     */
    private static final class CertifiedKeyManager extends X509ExtendedKeyManager {

        private static final String ALIAS = "clicktls";

        private final PrivateKey key;
        private final X509Certificate[] chain;
        private final boolean ec;

        CertifiedKeyManager(PrivateKey key, X509Certificate[] chain) {
            this.key = key;
            this.chain = chain;
            // Bouncy Castle names its EC keys "ECDSA", the JDK "EC": ask the interface, not the name
            this.ec = key instanceof ECKey;
        }

        /** Key types as the JDK and Netty name them: EC, EC_EC, EC_RSA (ECDSA keys), RSA, RSASSA-PSS (RSA keys). */
        private String aliasFor(String keyType) {
            if (keyType == null) {
                return null;
            }
            boolean wantsEc = keyType.equals("EC") || keyType.startsWith("EC_");
            boolean wantsRsa = keyType.equals("RSA") || keyType.equals("RSASSA-PSS");
            return (ec && wantsEc) || (!ec && key instanceof RSAKey && wantsRsa) ? ALIAS : null;
        }

        @Override
        public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
            return aliasFor(keyType);
        }

        @Override
        public String chooseEngineServerAlias(String keyType, Principal[] issuers, SSLEngine engine) {
            return aliasFor(keyType);
        }

        @Override
        public String[] getServerAliases(String keyType, Principal[] issuers) {
            return aliasFor(keyType) == null ? null : new String[] {ALIAS};
        }

        @Override
        public X509Certificate[] getCertificateChain(String alias) {
            return ALIAS.equals(alias) ? chain : null;
        }

        @Override
        public PrivateKey getPrivateKey(String alias) {
            return ALIAS.equals(alias) ? key : null;
        }

        @Override
        public String[] getClientAliases(String keyType, Principal[] issuers) {
            return null; // a server's key manager: never a client
        }

        @Override
        public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
            return null;
        }
    }

    /**
     * Accepts no client certificate and names no acceptable issuers. Server contexts never request a client
     * certificate ({@link ClientAuth#NONE}), so nothing is ever checked against it; were one ever presented, it is
     * refused rather than trusted.
     */
    private static final class NoClientCertificates extends X509ExtendedTrustManager {

        private static final X509Certificate[] NONE = new X509Certificate[0];

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            throw new CertificateException("client certificates are not accepted");
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
                throws CertificateException {
            throw new CertificateException("client certificates are not accepted");
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
                throws CertificateException {
            throw new CertificateException("client certificates are not accepted");
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            throw new CertificateException("a server context trusts no servers");
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
                throws CertificateException {
            throw new CertificateException("a server context trusts no servers");
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
                throws CertificateException {
            throw new CertificateException("a server context trusts no servers");
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return NONE;
        }
    }
}
