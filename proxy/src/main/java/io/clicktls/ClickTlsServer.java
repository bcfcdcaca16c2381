package io.clicktls;

import io.clicktls.acme.AcmeIssuer;
import io.clicktls.acme.ChallengeStore;
import io.clicktls.acme.RenewalScheduler;
import io.clicktls.admin.AdminServer;
import io.clicktls.config.Certificates;
import io.clicktls.config.ClickTlsConfig;
import io.clicktls.config.ConfigProblem;
import io.clicktls.config.ConfigWatcher;
import io.clicktls.config.Endpoint;
import io.clicktls.config.LiveConfig;
import io.clicktls.http.ProxyServer;
import io.clicktls.issuance.CertificateIssuer;
import io.clicktls.issuance.InternalIssuer;
import io.clicktls.issuance.IssuancePolicy;
import io.clicktls.metrics.Metrics;
import io.clicktls.platform.DemoPlatform;
import io.clicktls.storage.CertificateStore;
import io.clicktls.storage.FileStorage;
import io.clicktls.tls.CertificateResolver;
import io.clicktls.tls.TlsSelectionHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.io.IOException;
import java.security.SecureRandom;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running clicktls node: the parts built from a config and wired together, in the order data flows through
 * them. {@link Main} runs one; integration tests run one on ephemeral ports.
 */
public final class ClickTlsServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(ClickTlsServer.class);

    private final List<AutoCloseable> closeInReverse = new ArrayList<>();
    private final LiveConfig live;
    private final Metrics metrics;
    private CertificateResolver resolver;
    private ProxyServer proxy;
    private AdminServer admin;
    private DemoPlatform demo;
    private volatile boolean listening;

    private ClickTlsServer(ClickTlsConfig config, Metrics metrics) {
        this.live = new LiveConfig(config);
        this.metrics = metrics;
    }

    /**
     * Builds and starts every part; on failure closes what was started and rethrows.
     *
     * @param demoPlatform where to start the built-in stand-in email platform, or {@code null}
     */
    public static ClickTlsServer start(ClickTlsConfig config, Endpoint demoPlatform) throws Exception {
        ClickTlsServer server = new ClickTlsServer(config, new Metrics());
        try {
            server.startParts(config, demoPlatform, Clock.systemUTC());
            return server;
        } catch (Exception | Error e) {
            server.close();
            throw e;
        }
    }

    private void startParts(ClickTlsConfig config, Endpoint demoPlatform, Clock clock) throws Exception {
        Transport transport = Transport.create(0);
        closeInReverse.add(transport);
        ExecutorService blocking = BlockingExecutor.create(32, 100_000);
        closeInReverse.add(blocking::shutdownNow);
        ScheduledExecutorService timers = Executors.newSingleThreadScheduledExecutor(runnable -> {
            Thread thread = new Thread(runnable, "clicktls-renewals");
            thread.setDaemon(true);
            return thread;
        });
        closeInReverse.add(timers::shutdownNow);

        if (demoPlatform != null) {
            demo = DemoPlatform.start(demoPlatform.toSocketAddress(), transport.workers(), transport.serverChannel());
            closeInReverse.add(demo);
            log.info("demo email platform listening on 127.0.0.1:{}", demo.port());
        }

        FileStorage storage = new FileStorage(config.storage().directory());
        CertificateStore store = new CertificateStore(storage);
        ChallengeStore challenges = new ChallengeStore(storage);
        CertificateIssuer issuer = issuer(config, storage, challenges, clock, blocking);
        resolver = new CertificateResolver(live, store, issuer, new IssuancePolicy(), blocking, metrics, clock);

        RenewalScheduler renewals = new RenewalScheduler(
                resolver::inMemory,
                resolver::renew,
                issuer instanceof AcmeIssuer acme ? acme::renewalWindow : RenewalScheduler.RenewalWindows.NONE,
                clock,
                timers,
                new SecureRandom(),
                RenewalScheduler.Settings.DEFAULTS);
        renewals.start();
        closeInReverse.add(renewals);

        CertificateResolver certificates = resolver;
        proxy = ProxyServer.builder()
                .config(live)
                .eventLoops(transport.boss(), transport.workers())
                .channelTypes(transport.serverChannel(), transport.clientChannel())
                .tlsHandlerFactory(ch -> new TlsSelectionHandler(certificates, challenges, blocking, live, metrics))
                .certificates(resolver)
                .challenges(challenges)
                .blockingExecutor(blocking)
                .metrics(metrics)
                .upstreamSslContext(upstreamTls())
                .addresses(
                        config.listen().https().toSocketAddress(),
                        config.listen().http().toSocketAddress())
                .build()
                .start();
        closeInReverse.add(proxy);
        listening = true;

        admin = new AdminServer(
                        config.listen().admin(), metrics, () -> listening, transport.boss(), transport.serverChannel())
                .start();
        closeInReverse.add(admin);

        if (config.source() != null) {
            ConfigWatcher watcher = new ConfigWatcher(config.source(), live, new ConfigWatcher.ReloadListener() {
                @Override
                public void accepted(ClickTlsConfig next) {
                    metrics.configReload("ok");
                }

                @Override
                public void rejected(List<ConfigProblem> problems) {
                    metrics.configReload("rejected");
                }
            });
            watcher.start();
            closeInReverse.add(watcher);
        }
        log.info(
                "clicktls serving https on {}, http on {}, admin on {} ({} transport, {} TLS, {} issuer, {} domain entries)",
                proxy.httpsPort(),
                proxy.httpPort(),
                admin.port(),
                transport.name(),
                resolver.contexts().provider(),
                issuer.label(),
                live.get().domains().size());
    }

    private CertificateIssuer issuer(
            ClickTlsConfig config, FileStorage storage, ChallengeStore challenges, Clock clock, ExecutorService blocking)
            throws IOException, InterruptedException {
        Certificates certificates = config.certificates();
        if (certificates.issuer() == Certificates.IssuerKind.ACME) {
            AcmeIssuer acme = new AcmeIssuer(certificates.acme(), certificates.keyType(), storage, challenges, clock);
            closeInReverse.add(acme);
            // Log in and make the next key before the first handshake needs them.
            blocking.execute(acme::warmUp);
            return acme;
        }
        InternalIssuer internal = InternalIssuer.open(storage, live, clock);
        log.info("internal CA: trust {} to try the proxy", storage.path("ca/root.pem"));
        return internal;
    }

    private static SslContext upstreamTls() throws IOException {
        // The JDK's default trust store: platforms' upstreams have public certificates.
        return SslContextBuilder.forClient().protocols("TLSv1.3", "TLSv1.2").build();
    }

    public LiveConfig config() {
        return live;
    }

    public Metrics metrics() {
        return metrics;
    }

    public CertificateResolver certificates() {
        return resolver;
    }

    public int httpsPort() {
        return proxy.httpsPort();
    }

    public int httpPort() {
        return proxy.httpPort();
    }

    public int adminPort() {
        return admin.port();
    }

    /** Stops listening, lets requests in flight finish (bounded), then releases everything. Idempotent. */
    @Override
    public synchronized void close() {
        listening = false;
        for (int i = closeInReverse.size() - 1; i >= 0; i--) {
            try {
                closeInReverse.get(i).close();
            } catch (Exception e) {
                log.warn("while stopping: {}", e.toString());
            }
        }
        closeInReverse.clear();
    }
}
