package io.clicktls.tls;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.clicktls.pki.CertifiedKey;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.OpenSslSessionContext;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.util.IllegalReferenceCountException;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.ReferenceCounted;
import java.security.cert.X509Certificate;
import java.util.concurrent.atomic.AtomicBoolean;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Server {@link SslContext}s built from {@link CertifiedKey}s: TLS 1.3 and 1.2 only, ALPN {@code h2} then
 * {@code http/1.1} (the server's order wins), session tickets on. BoringSSL (netty-tcnative) when it loads, else the
 * JDK's TLS. BoringSSL contexts are reference-counted: this cache holds one reference, each engine another, so a
 * context evicted here is freed only once the last connection using it is gone.
 *
 * <p>Contexts are cached per certificate object (by identity, held weakly: once the certificate cache drops a
 * certificate, its context goes too), bounded in number because each native context costs memory.
 *
 * <p>Contexts handed out by {@link #acquire} and {@link #acquireCached} are retained for the caller, who releases
 * them ({@link ReferenceCountUtil#release(Object)}) once its {@code SslHandler} exists. Thread-safe.
 */
public final class TlsContexts {

    /** The ALPN protocol of the tls-alpn-01 challenge (RFC 8737). */
    public static final String ACME_TLS_1 = "acme-tls/1";
    /** Default bound on cached contexts. */
    public static final int DEFAULT_MAXIMUM_SIZE = 20_000;

    private static final Logger log = LoggerFactory.getLogger(TlsContexts.class);
    private static final AtomicBoolean warnedJdk = new AtomicBoolean();

    private final SslProvider provider;
    private final Cache<CertifiedKey, SslContext> contexts;

    /** BoringSSL if available, else the JDK; at most {@link #DEFAULT_MAXIMUM_SIZE} contexts. */
    public TlsContexts() {
        this(preferredProvider(), DEFAULT_MAXIMUM_SIZE);
    }

    /** @param provider {@link SslProvider#OPENSSL_REFCNT} or {@link SslProvider#JDK} */
    public TlsContexts(SslProvider provider, int maximumSize) {
        this.provider = provider;
        this.contexts = Caffeine.newBuilder()
                .weakKeys()
                .maximumSize(maximumSize)
                .executor(Runnable::run) // release at once on eviction: cheap, and tests can see it
                .<CertifiedKey, SslContext>removalListener((key, context, cause) -> ReferenceCountUtil.release(context))
                .build();
    }

    /** BoringSSL when netty-tcnative loads here, else the JDK (saying so once, at WARN). */
    public static SslProvider preferredProvider() {
        if (OpenSsl.isAvailable()) {
            return SslProvider.OPENSSL_REFCNT;
        }
        if (warnedJdk.compareAndSet(false, true)) {
            log.warn("BoringSSL (netty-tcnative) is not available here ({}); using the JDK's TLS, which is slower",
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
     * A fresh, uncached context for a tls-alpn-01 challenge certificate: ALPN {@code acme-tls/1} only. The caller
     * owns it and releases it once its {@code SslHandler} exists. Blocking: call from the blocking executor.
     */
    public SslContext challengeContext(CertifiedKey certified) throws SSLException {
        return build(certified, ACME_TLS_1);
    }

    private SslContext build(CertifiedKey certified, String... protocols) throws SSLException {
        SslContext context = SslContextBuilder
                .forServer(certified.key(), certified.chain().toArray(new X509Certificate[0]))
                .sslProvider(provider)
                .protocols("TLSv1.3", "TLSv1.2")
                .applicationProtocolConfig(new ApplicationProtocolConfig(
                        ApplicationProtocolConfig.Protocol.ALPN,
                        ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                        ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
                        protocols))
                .build();
        if (context.sessionContext() instanceof OpenSslSessionContext sessions) {
            // Netty turns tickets off for BoringSSL by default; setting no keys turns them on with BoringSSL's own
            // rotating keys, per context, so a ticket resumes only with the certificate it was made for.
            sessions.setTicketKeys();
        }
        return context;
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
}
