package io.clicktls;

import io.clicktls.acme.AcmeIssuer;
import io.clicktls.certificates.InternalIssuer;
import io.clicktls.certificates.IssuanceException;
import io.clicktls.certificates.PublicSuffixList;
import io.clicktls.metrics.Metrics;
import io.clicktls.storage.CertificateStore;
import io.clicktls.tls.TlsContexts;
import io.netty.channel.epoll.Epoll;
import io.netty.handler.ssl.OpenSsl;
import java.util.concurrent.Executor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Every warm-up of a start, in one place: work a cold JVM would otherwise do on the first customer request or
 * handshake (class loading, JIT, native libraries, trust stores). Each step is an optimisation: it never throws, a
 * failure only means the work happens later, where it is reported. Two moments:
 *
 * <ol>
 *   <li>{@link #startInBackground()}, before the config is read (100,000 domains: a few hundred ms on the main
 *       thread): on a second core, the native TLS and transport libraries, the Public Suffix List, the upstream TLS
 *       context (the JDK trust store), the metrics registry's classes and the certificate store's.
 *   <li>{@link #rehearseFirstHandshake}, once the issuer exists, on the blocking executor: a throwaway certificate
 *       for {@link #THROWAWAY_NAME} (never stored, never served) goes through what the first handshake for a new name
 *       runs. With ACME: {@link AcmeIssuer#warmUp} checks the account and runs the local half of an order (a
 *       tls-alpn-01 challenge certificate through {@code ChallengeStore.rehearseTlsAlpn01}, a CSR), then hands the
 *       certificate to {@link TlsContexts#warmUp}; with the internal CA, the CA issues it and
 *       {@link TlsContexts#warmUp} builds its contexts and runs one handshake in memory. The rehearsal bodies stay in
 *       those classes because they use their private parts; what runs, when and on which thread is decided here.
 * </ol>
 */
public final class WarmUp {

    private static final Logger log = LoggerFactory.getLogger(WarmUp.class);

    /**
     * The name of the internal CA's throwaway certificate: {@code .invalid} can never be ordered or served.
     * {@code TlsContexts} and {@code AcmeIssuer} use the same name for theirs (they sit below this package and do not
     * import it).
     */
    static final String THROWAWAY_NAME = "warm-up.invalid";

    static final String THREAD_NAME = "clicktls-warm-up";

    private WarmUp() {}

    /** Starts the first warm-up on a daemon thread that ends on its own; the caller does not wait for it. */
    static Thread startInBackground() {
        Thread thread = new Thread(
                () -> {
                    try {
                        OpenSsl.isAvailable();
                        PublicSuffixList.bundled();
                        Epoll.isAvailable();
                        ClickTlsServer.prepareUpstreamTls();
                        new Metrics().close();
                        Class.forName(CertificateStore.class.getName(), true, WarmUp.class.getClassLoader());
                    } catch (Throwable e) {
                        log.debug("start-up warm-up: {}", e.toString());
                    }
                },
                THREAD_NAME);
        thread.setDaemon(true);
        thread.start();
        return thread;
    }

    /** Rehearses a first handshake with an ACME issuer (~0.7 s of class loading and JIT on a cold JVM). */
    static void rehearseFirstHandshake(AcmeIssuer acme, TlsContexts contexts, Executor blocking) {
        blocking.execute(() -> acme.warmUp(contexts::warmUp));
    }

    /** Rehearses a first handshake with the internal CA. */
    static void rehearseFirstHandshake(InternalIssuer internal, TlsContexts contexts, Executor blocking) {
        blocking.execute(() -> {
            try {
                contexts.warmUp(internal.issue(THROWAWAY_NAME));
            } catch (IssuanceException | RuntimeException e) {
                log.debug("TLS warm-up skipped: {}", e.toString());
            }
        });
    }
}
