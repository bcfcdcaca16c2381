package io.clicktls.testing;

import io.clicktls.certificates.CertificateEvents;
import io.clicktls.certificates.CertificateIssuer;
import io.clicktls.certificates.CertificateResolver;
import io.clicktls.certificates.InternalIssuer;
import io.clicktls.certificates.IssuanceException;
import io.clicktls.certificates.IssuancePolicy;
import io.clicktls.config.Acme;
import io.clicktls.config.Certificates;
import io.clicktls.config.ClickTlsConfig;
import io.clicktls.config.Domain;
import io.clicktls.config.Endpoint;
import io.clicktls.config.Listen;
import io.clicktls.config.LiveConfig;
import io.clicktls.config.OnDemand;
import io.clicktls.config.Platform;
import io.clicktls.config.StorageSettings;
import io.clicktls.config.Upgrade;
import io.clicktls.metrics.Metrics;
import io.clicktls.pki.CertifiedKey;
import io.clicktls.storage.CertificateStore;
import io.clicktls.storage.FileStorage;
import io.clicktls.tls.TlsContexts;
import io.netty.handler.ssl.SslProvider;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.SSLContext;

/**
 * The certificate stack of a node without its listeners: a temporary storage folder with the internal CA, the
 * issuance policy and a certificate resolver over them, for tests. The config serves
 * the domain names given (exact or {@code *.} wildcards) through one stand-in platform. Close it to stop the blocking
 * executor; the folder belongs to the test (e.g. a JUnit {@code @TempDir}).
 */
public final class InternalCaStack implements AutoCloseable {

    public final Path directory;
    public final MutableClock clock;
    public final LiveConfig config;
    public final FileStorage storage;
    public final CertificateStore store;
    public final InternalIssuer internalIssuer;
    public final CountingIssuer issuer;
    public final IssuancePolicy policy = new IssuancePolicy();
    public final Metrics metrics = new Metrics();
    public final ExecutorService blocking = Executors.newFixedThreadPool(4, runnable -> {
        Thread thread = new Thread(runnable, "test-blocking");
        thread.setDaemon(true);
        return thread;
    });

    private InternalCaStack(Path directory, Duration handshakeWait, List<String> domains) throws IOException {
        this.directory = directory;
        this.clock = new MutableClock(Instant.now());
        this.config = new LiveConfig(config(directory, handshakeWait, domains));
        this.storage = new FileStorage(directory, clock);
        this.store = new CertificateStore(storage);
        try {
            this.internalIssuer = InternalIssuer.open(storage, config, clock);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
        this.issuer = new CountingIssuer(internalIssuer);
    }

    /** A handshake wait of 10 seconds. */
    public static InternalCaStack create(Path directory, String... domains) throws IOException {
        return create(directory, Duration.ofSeconds(10), domains);
    }

    public static InternalCaStack create(Path directory, Duration handshakeWait, String... domains) throws IOException {
        return new InternalCaStack(directory, handshakeWait, Arrays.asList(domains));
    }

    /** A new resolver over this storage and CA, its TLS contexts (preferred provider) following it. */
    public CertificateResolver resolver() {
        return resolver(contexts(TlsContexts.preferredProvider()));
    }

    /** TLS contexts for a resolver of this CA. */
    public static TlsContexts contexts(SslProvider provider) {
        return new TlsContexts(provider, 1000);
    }

    /** A new resolver whose certificates' contexts live in {@code contexts}. */
    public CertificateResolver resolver(TlsContexts contexts) {
        return resolver(contexts, blocking);
    }

    /** @param blocking e.g. {@link #blocking} wrapped to count tasks */
    public CertificateResolver resolver(TlsContexts contexts, Executor blocking) {
        return CertificateResolver.builder()
                .config(config)
                .store(store)
                .issuer(issuer)
                .policy(policy)
                .blocking(blocking)
                .metrics(metrics)
                .clock(clock)
                .events(CertificateEvents.of(contexts::warm, contexts::invalidate))
                .maximumSize(1000)
                .build();
    }

    /** The internal CA's root, which clients trust. */
    public X509Certificate root() {
        return internalIssuer.root();
    }

    /** A trust store holding only the internal root. */
    public KeyStore trustStore() throws GeneralSecurityException, IOException {
        return ClientTls.trustStore(root());
    }

    /** A JDK client context that trusts the internal root only. */
    public SSLContext clientContext() throws GeneralSecurityException, IOException {
        return ClientTls.trusting(root());
    }

    @Override
    public void close() {
        blocking.shutdownNow();
        try {
            blocking.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** A config with the given domains on a stand-in platform, storage at {@code directory}, internal issuer. */
    public static ClickTlsConfig config(Path directory, Duration handshakeWait, List<String> domains) {
        Platform standIn = new Platform("stand-in", URI.create("http://127.0.0.1:8081"), Platform.HostHeader.PRESERVE);
        return new ClickTlsConfig(
                new Listen(new Endpoint("127.0.0.1", 0), new Endpoint("127.0.0.1", 0), new Endpoint("127.0.0.1", 0)),
                new StorageSettings(directory),
                new Certificates(
                        Certificates.IssuerKind.INTERNAL,
                        Certificates.KeyType.EC256,
                        new Acme(
                                URI.create("https://acme.invalid/directory"),
                                null,
                                null,
                                List.of(Acme.ChallengeType.TLS_ALPN_01, Acme.ChallengeType.HTTP_01)),
                        new OnDemand(null, handshakeWait)),
                Map.of("stand-in", standIn),
                domains.stream().map(name -> new Domain(name, "stand-in")).toList(),
                new Upgrade(Upgrade.HttpMode.REDIRECT, true, true),
                null);
    }

    /** Counts {@code issue} calls; can be slowed down or made to fail. */
    public static final class CountingIssuer implements CertificateIssuer {
        private final CertificateIssuer delegate;
        private final AtomicInteger calls = new AtomicInteger();
        private volatile long delayMillis;
        private final AtomicReference<IssuanceException> failure = new AtomicReference<>();

        public CountingIssuer(CertificateIssuer delegate) {
            this.delegate = delegate;
        }

        @Override
        public CertifiedKey issue(String name) throws IssuanceException {
            calls.incrementAndGet();
            if (delayMillis > 0) {
                try {
                    Thread.sleep(delayMillis); // the point: an issuer as slow as the test asked for
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IssuanceException("interrupted", e);
                }
            }
            IssuanceException planned = failure.getAndSet(null);
            if (planned != null) {
                throw planned;
            }
            return delegate.issue(name);
        }

        @Override
        public String label() {
            return delegate.label();
        }

        public int calls() {
            return calls.get();
        }

        public void delay(Duration delay) {
            this.delayMillis = delay.toMillis();
        }

        /** The next call fails with this exception. */
        public void failNext(IssuanceException exception) {
            failure.set(exception);
        }
    }
}
