package io.clicktls;

import io.clicktls.acme.AcmeIssuer;
import io.clicktls.acme.ChallengeStore;
import io.clicktls.admin.AdminServer;
import io.clicktls.admin.DomainStatusSource;
import io.clicktls.admin.Hold;
import io.clicktls.certificates.CertificateCleanup;
import io.clicktls.certificates.CertificateEvents;
import io.clicktls.certificates.CertificateIssuer;
import io.clicktls.certificates.CertificateLifetimes;
import io.clicktls.certificates.CertificatePrefetch;
import io.clicktls.certificates.CertificateResolver;
import io.clicktls.certificates.DnsCheck;
import io.clicktls.certificates.FailureCountingIssuer;
import io.clicktls.certificates.FallbackIssuer;
import io.clicktls.certificates.InternalIssuer;
import io.clicktls.certificates.IssuanceFailure;
import io.clicktls.certificates.IssuanceFailures;
import io.clicktls.certificates.IssuanceJournal;
import io.clicktls.certificates.IssuancePolicy;
import io.clicktls.certificates.PendingHandshakes;
import io.clicktls.certificates.RenewalScheduler;
import io.clicktls.config.Certificates;
import io.clicktls.config.ClickTlsConfig;
import io.clicktls.config.ConfigProblem;
import io.clicktls.config.ConfigSnapshot;
import io.clicktls.config.ConfigWatcher;
import io.clicktls.config.Endpoint;
import io.clicktls.config.LiveConfig;
import io.clicktls.http.ProxyServer;
import io.clicktls.metrics.Metrics;
import io.clicktls.pki.CertifiedKey;
import io.clicktls.platform.DemoPlatform;
import io.clicktls.storage.CachedStorage;
import io.clicktls.storage.CertificateStore;
import io.clicktls.storage.CopyPacing;
import io.clicktls.storage.FileStorage;
import io.clicktls.storage.MeasuredStorage;
import io.clicktls.storage.RetryingStorage;
import io.clicktls.storage.SessionTicketSecret;
import io.clicktls.storage.Storage;
import io.clicktls.storage.StorageKeys;
import io.clicktls.storage.StoredCertificate;
import io.clicktls.storage.postgres.PostgresSettings;
import io.clicktls.storage.postgres.PostgresStorage;
import io.clicktls.tls.CertificateLoadExecutor;
import io.clicktls.tls.SessionTicketKeys;
import io.clicktls.tls.TlsContexts;
import io.clicktls.tls.TlsSelectionHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.shredzone.acme4j.exception.AcmeException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running clicktls node: the parts built from a config and wired together, in the order data flows through
 * them. {@link Main} runs one; integration tests run one on ephemeral ports.
 */
public final class ClickTlsServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(ClickTlsServer.class);
    /** The first pass of the certificate cleanup: after start-up, out of the way of the first handshakes. */
    private static final Duration CLEANUP_FIRST = Duration.ofMinutes(10);

    private static final Duration CLEANUP_INTERVAL = Duration.ofHours(6);
    /** The sweep of abandoned writes and the index of stored certificates: once the first handshakes are done. */
    private static final Duration STORAGE_SCAN_DELAY = Duration.ofSeconds(2);
    /** How often /healthz's view of a full or read-only storage is refreshed while nothing waits to be written. */
    private static final Duration STORAGE_PROBE_INTERVAL = Duration.ofSeconds(5);

    /** How often the session ticket secret is read again, besides the change feed. */
    private static final Duration TICKET_SECRET_REREAD = Duration.ofMinutes(5);

    private final List<AutoCloseable> closeInReverse = new ArrayList<>();
    /** The ACME issuers among the configured ones, for their renewal windows. */
    private final List<AcmeIssuer> acmeIssuers = new ArrayList<>();

    private final LiveConfig live;
    private final Metrics metrics;
    private CertificateResolver resolver;
    private TlsContexts tlsContexts;
    private IssuancePolicy policy;
    private RenewalScheduler renewals;
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
        return start(config, demoPlatform, Clock.systemUTC(), RenewalScheduler.Settings.DEFAULTS);
    }

    /** For tests: a clock of their own (e.g. years ahead, to reach renewal windows) and renewal timings. */
    static ClickTlsServer start(
            ClickTlsConfig config, Endpoint demoPlatform, Clock clock, RenewalScheduler.Settings renewalSettings)
            throws Exception {
        return start(config, demoPlatform, clock, renewalSettings, CertificatePrefetch.Settings.DEFAULTS);
    }

    /** For tests: also the pace of issuing listed names ahead of the first handshake (e.g. quick retries). */
    static ClickTlsServer start(
            ClickTlsConfig config,
            Endpoint demoPlatform,
            Clock clock,
            RenewalScheduler.Settings renewalSettings,
            CertificatePrefetch.Settings prefetchSettings)
            throws Exception {
        ClickTlsServer server = new ClickTlsServer(config, new Metrics());
        try {
            server.startParts(config, demoPlatform, clock, renewalSettings, prefetchSettings);
            return server;
        } catch (Exception | Error e) {
            server.close();
            throw e;
        }
    }

    private void startParts(
            ClickTlsConfig config,
            Endpoint demoPlatform,
            Clock clock,
            RenewalScheduler.Settings renewalSettings,
            CertificatePrefetch.Settings prefetchSettings)
            throws Exception {
        closeInReverse.add(metrics);
        Transport transport = Transport.create(config.tuning());
        closeInReverse.add(transport);
        metrics.bindNetty(transport.boss(), transport.workers());
        ExecutorService blocking = BlockingExecutor.create(32, 100_000);
        closeInReverse.add(blocking::shutdownNow);
        // The CA's validation requests wait for these lookups and give up after a few seconds (Pebble: 5 s), while a
        // burst of new names queues minutes of orders on `blocking`: answering must not queue behind them.
        ExecutorService challengeLookups = BlockingExecutor.create("clicktls-challenge", 2, 10_000);
        closeInReverse.add(challengeLookups::shutdownNow);
        // What keeps the nodes sharing a storage in step, on time whatever the orders queued on `blocking`: renewing
        // and giving back order leases (a renewal late past the lease's expiry lets another node order the same
        // name), and following the changes other nodes make (a certificate issued elsewhere served within seconds).
        ExecutorService coordination = BlockingExecutor.create("clicktls-cluster", 2, 100_000);
        closeInReverse.add(coordination::shutdownNow);
        ScheduledExecutorService timers = Executors.newSingleThreadScheduledExecutor(runnable -> {
            Thread thread = new Thread(runnable, "clicktls-renewals");
            thread.setDaemon(true);
            return thread;
        });
        closeInReverse.add(timers::shutdownNow);

        if (demoPlatform != null) {
            demo = DemoPlatform.start(demoPlatform.toSocketAddress(), transport.workers(), transport.serverChannel());
            closeInReverse.add(demo);
            log.info("demo email platform listening on {}:{}", demoPlatform.host(), demo.port());
        }

        Storage backend = startStorage(config);
        if (backend instanceof AutoCloseable closeable) {
            closeInReverse.add(closeable); // a database pool; closed after everything that writes through it
        }
        PostgresStorage postgres = backend instanceof PostgresStorage database ? database : null;
        Supplier<Optional<String>> outage = postgres != null ? postgres::outage : Optional::empty;
        metrics.storageOperations(postgres != null ? "postgres" : "file", MeasuredStorage.OPERATIONS, () -> outage.get()
                .isEmpty());
        Storage measured = new MeasuredStorage(backend, metrics::storageOperation);
        // A node restarted while the database is down serves what it served before from its local copy.
        Storage served = postgres != null
                ? localCopy(measured, postgres, config.storage().postgresCache())
                : measured;
        // A full or read-only disk (or an unreachable database) must not stop the node: writes it refuses wait in
        // memory and are retried.
        RetryingStorage storage = new RetryingStorage(served, timers, blocking, clock, metrics::storageWriteFailed);
        closeInReverse.add(storage);
        storage.watch(served::unwritable, STORAGE_PROBE_INTERVAL);
        metrics.storageWrites(RetryingStorage.KINDS, storage::pending, storage::writable);
        CertificateStore store = new CertificateStore(storage, config.node().name());
        CertificateLifetimes lifetimes = new CertificateLifetimes(store, clock);
        metrics.lifetimeRemainingGauge(lifetimes::smallestRemainingFraction);
        IssuanceFailures failures = new IssuanceFailures(storage, clock);
        SessionTicketKeys ticketKeys = sessionTicketKeys(storage, clock);
        TlsContexts contexts =
                new TlsContexts(TlsContexts.preferredProvider(), TlsContexts.DEFAULT_MAXIMUM_SIZE, ticketKeys);
        tlsContexts = contexts;
        closeInReverse.add(contexts::clear);
        // A tls-alpn-01 context is built when its challenge is published, before the CA's validation connections.
        // On a database the nodes share a challenge must be there before the CA validates (through any node), so it
        // is written past RetryingStorage, which would keep a refused write in this node's memory; a single node
        // answers from memory, so a folder keeps the retrying layer (a full disk must not stop issuance).
        ChallengeStore challenges = new ChallengeStore(
                postgres != null ? served : storage,
                ChallengeStore.TlsAlpnListener.of(contexts::prepareChallenge, contexts::releaseChallenge));
        CertificateIssuer issuer = issuer(config, storage, challenges, clock, blocking, contexts);
        List<String> issuerLabels = issuerLabels(issuer);
        metrics.issuers(issuerLabels, (label, state) -> lifetimes.stored(label, state, issuerLabels));
        // The status page's view of issuances under way and of failing names, seen through the issuer it wraps.
        IssuanceJournal journal = new IssuanceJournal();
        blocking.execute(() -> journal.seedFailing(storage));
        metrics.failingNamesGauge(journal::failingCount);
        IssuancePolicy policy = IssuancePolicy.create(live, storage, blocking, clock);
        closeInReverse.add(policy);
        policy.holdOrdersWhile(outage);
        policy.monitor(metrics);
        failures.monitor(metrics);
        this.policy = policy;
        // Handshakes for names not in memory wait for these reads: threads of their own, not behind issuance.
        CertificateLoadExecutor loads = CertificateLoadExecutor.create(2, 1024, blocking);
        closeInReverse.add(loads);
        resolver = CertificateResolver.builder()
                .config(live)
                .store(store)
                .issuer(journal.wrap(issuer))
                .policy(policy)
                .failures(failures)
                .blocking(blocking)
                .loads(loads)
                // one order per name across the nodes sharing the storage
                .leases(config.storage().lease(), timers, coordination)
                .metrics(metrics)
                .clock(clock)
                // the one cache of certificates is the resolver's; the contexts follow it
                .events(CertificateEvents.of(contexts::warm, contexts::invalidate))
                .build();
        CertificateResolver certificates = resolver;
        // Requests for a name outside `domains` go to on_demand.platform once the policy let it have a certificate.
        live.routeOnDemand(name -> certificates.cached(name).isPresent() || policy.allowedOnDemand(name));
        CertificateCleanup cleanup = new CertificateCleanup(live, store, policy, certificates::forget, blocking, clock);
        cleanup.load();
        cleanup.start(timers, CLEANUP_FIRST, CLEANUP_INTERVAL);
        closeInReverse.add(cleanup);

        renewals = RenewalScheduler.builder()
                .store(store)
                .action(resolver::renew)
                .configured(name -> certificates.configured(name) && cleanup.renewable(name))
                .failures(failures)
                .windows(renewalWindows(acmeIssuers))
                .clock(clock)
                .executor(timers)
                .random(new SecureRandom())
                .settings(renewalSettings)
                .build();
        closeInReverse.add(renewals);
        RenewalScheduler scheduler = renewals;
        followOtherNodes(
                backend, blocking, coordination, timers, store, certificates, failures, policy, ticketKeys, storage);
        // Exact names listed without a certificate are issued before their first click, once the index says which.
        CertificatePrefetch prefetch = new CertificatePrefetch(
                live,
                store,
                certificates::prefetch,
                name -> certificates.cached(name).isPresent(),
                policy,
                blocking,
                timers,
                clock,
                prefetchSettings,
                metrics);
        closeInReverse.add(prefetch);
        live.onChange(prefetch::configChanged);
        // Reading every meta.json takes seconds with 100,000 certificates: not on the way to opening the listeners,
        // and not alongside the first handshakes either (2 cores: it would take one from them); renewals are
        // planned days ahead, so they can start a moment later.
        timers.schedule(
                () -> blocking.execute(() -> {
                    try {
                        served.sweepAbandonedWrites();
                    } catch (IOException | RuntimeException e) {
                        log.warn("cannot sweep temporary files left by interrupted writes: {}", e.toString());
                    }
                    try {
                        store.scanIndex();
                    } catch (IOException | RuntimeException e) {
                        log.error("cannot index the stored certificates; renewing only those saved from now on", e);
                    }
                    scheduler.start();
                    prefetch.start();
                }),
                STORAGE_SCAN_DELAY.toMillis(),
                TimeUnit.MILLISECONDS);

        PendingHandshakes pending = new PendingHandshakes();
        TlsSelectionHandler.Shared tlsSelection = new TlsSelectionHandler.Shared(
                certificates, contexts, challenges, blocking, challengeLookups, live, metrics, pending);
        proxy = ProxyServer.builder()
                .config(live)
                .eventLoops(transport.boss(), transport.workers())
                .channelTypes(transport.serverChannel(), transport.clientChannel())
                .tlsHandlerFactory(ch -> new TlsSelectionHandler(tlsSelection))
                .certificates(resolver)
                .pendingLookups(pending)
                .challenges(challenges)
                .challengeExecutor(challengeLookups)
                .metrics(metrics)
                .upstreamSslContext(upstreamTls())
                .addresses(
                        config.listen().https().toSocketAddress(),
                        config.listen().http().toSocketAddress())
                .build()
                .start();
        closeInReverse.add(proxy);
        listening = true;
        // The JVM and process gauges (~100 classes, JMX beans) are not needed to serve: bound once the listeners
        // are open, still before start() returns and before the admin listener can be scraped.
        metrics.bindRuntime();

        DnsCheck dns = DnsCheck.create(dnsServer(config));
        closeInReverse.add(dns);
        admin = new AdminServer(
                        config.listen().admin(), metrics, () -> listening, transport.boss(), transport.serverChannel())
                .token(() -> live.get().config().admin().token())
                .blockingExecutor(blocking)
                .degraded(() -> degraded(outage, storage))
                .status(
                        new NodeStatus(
                                live,
                                resolver,
                                store,
                                failures,
                                journal,
                                renewals,
                                policy,
                                prefetch,
                                cleanup,
                                issuer.label(),
                                outage),
                        dns,
                        clock)
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
                tlsContexts.provider(),
                issuer.label(),
                live.get().domains().size());
    }

    /**
     * The session ticket keys, from the secret in storage (made there by the first node that needs it), so that
     * tickets resume on every node sharing the storage and after a restart. When the storage cannot give one now, a
     * random secret for this process; {@link #followOtherNodes} picks up the stored one later.
     */
    private static SessionTicketKeys sessionTicketKeys(Storage storage, Clock clock) {
        byte[] secret;
        try {
            secret = SessionTicketSecret.loadOrCreate(storage);
        } catch (IOException | RuntimeException e) {
            log.warn(
                    "no session ticket secret from storage ({}); tickets from this node resume only here until it"
                            + " can be read",
                    e.toString());
            secret = new byte[48];
            new SecureRandom().nextBytes(secret);
        }
        return new SessionTicketKeys(secret, SessionTicketKeys.DEFAULT_ROTATION, clock);
    }

    /**
     * Keeps this node's memory in step with what other nodes sharing the storage write, from the backend's change
     * feed (PostgreSQL's; a file system reports nothing): a certificate stored, renewed or deleted elsewhere is
     * swapped in or dropped ({@code meta.json} is written last and deleted first), rate-limit windows and failure
     * backoff are read again, and a replaced session ticket secret is used. The secret is also read every
     * {@link #TICKET_SECRET_REREAD}, for a node that started without it. The feed's thread only hands keys over.
     */
    private void followOtherNodes(
            Storage backend,
            ExecutorService blocking,
            ExecutorService coordination,
            ScheduledExecutorService timers,
            CertificateStore store,
            CertificateResolver certificates,
            IssuanceFailures failures,
            IssuancePolicy policy,
            SessionTicketKeys ticketKeys,
            Storage storage) {
        Runnable readTicketSecret = () -> {
            try {
                SessionTicketSecret.load(storage).ifPresent(secret -> {
                    if (ticketKeys.useSecret(secret)) {
                        log.info("session ticket secret changed in storage; new tickets use it");
                    }
                });
            } catch (IOException | RuntimeException e) {
                log.debug("cannot read the session ticket secret: {}", e.toString());
            }
        };
        Consumer<String> changed = key -> {
            String name = StorageKeys.certificateMetaName(key);
            if (name != null) {
                try {
                    store.reindex(name);
                } catch (IOException | RuntimeException e) {
                    log.warn("cannot index {} again after a change elsewhere: {}", name, e.toString());
                }
                certificates.refresh(name);
            } else if (key.startsWith(StorageKeys.LIMITS)) {
                policy.limitsChanged(key);
            } else if (StorageKeys.issuanceStateName(key) != null) {
                failures.changedElsewhere(StorageKeys.issuanceStateName(key));
            } else if (key.equals(StorageKeys.SESSION_TICKET_SECRET)) {
                readTicketSecret.run();
            }
        };
        try {
            // Keys are followed one task at a time (a burst takes one place in the queue), on the coordination
            // executor: behind a burst of orders on `blocking`, a certificate another node stored would wait minutes.
            closeInReverse.add(backend.onChange(new ChangedKeys(changed, coordination)));
        } catch (IOException e) {
            log.warn("cannot follow changes made by other nodes sharing the storage: {}", e.toString());
        }
        timers.scheduleWithFixedDelay(
                () -> blocking.execute(readTicketSecret),
                TICKET_SECRET_REREAD.toMillis(),
                TICKET_SECRET_REREAD.toMillis(),
                TimeUnit.MILLISECONDS);
    }

    /**
     * The issuers of {@code certificates.issuers} (or the one of {@code issuer} and {@code acme}), the first rehearsing
     * a first handshake; several are tried in order by a {@link FallbackIssuer}.
     */
    private CertificateIssuer issuer(
            ClickTlsConfig config,
            Storage storage,
            ChallengeStore challenges,
            Clock clock,
            ExecutorService blocking,
            TlsContexts contexts)
            throws IOException, InterruptedException {
        Certificates certificates = config.certificates();
        List<Certificates.Issuer> configured = certificates.issuers();
        List<CertificateIssuer> issuers = new ArrayList<>();
        for (int i = 0; i < configured.size(); i++) {
            Certificates.Issuer settings = configured.get(i);
            boolean first = issuers.isEmpty();
            if (settings.acme() != null) {
                AcmeIssuer acme = new AcmeIssuer(
                        settings.acme(), certificates.keyType(), storage, challenges, clock, settings.name());
                closeInReverse.add(acme);
                checkProfile(acme, configured.size() > 1 ? "certificates.issuers[" + i + "]." : "certificates.acme.");
                if (first) {
                    WarmUp.rehearseFirstHandshake(acme, contexts, blocking);
                } else {
                    blocking.execute(acme::warmUp); // the account, so that a fallback order does not wait for it
                }
                acmeIssuers.add(acme);
                issuers.add(new FailureCountingIssuer(acme, metrics::issuerFailed));
            } else {
                InternalIssuer internal = InternalIssuer.open(storage, live, clock);
                log.info("internal CA: trust {} to try the proxy", storage.where(StorageKeys.CA_ROOT));
                if (first) {
                    WarmUp.rehearseFirstHandshake(internal, contexts, blocking);
                }
                issuers.add(new FailureCountingIssuer(internal, metrics::issuerFailed));
            }
        }
        if (issuers.size() == 1) {
            return issuers.get(0);
        }
        log.info(
                "issuers in order: {}",
                issuers.stream().map(CertificateIssuer::label).toList());
        return new FallbackIssuer(issuers, clock, metrics::issuerFellBack);
    }

    /** The labels of the issuers, in order of preference. */
    private static List<String> issuerLabels(CertificateIssuer issuer) {
        return issuer instanceof FallbackIssuer fallback
                ? fallback.issuers().stream().map(CertificateIssuer::label).toList()
                : List.of(issuer.label());
    }

    /** The ARI windows of each ACME issuer, asked for the certificates it signed. */
    private static RenewalScheduler.RenewalWindows renewalWindows(List<AcmeIssuer> acmeIssuers) {
        if (acmeIssuers.isEmpty()) {
            return RenewalScheduler.RenewalWindows.NONE;
        }
        if (acmeIssuers.size() == 1) {
            AcmeIssuer acme = acmeIssuers.get(0);
            return RenewalScheduler.RenewalWindows.forIssuer(acme.label(), acme::renewalWindow);
        }
        return new RenewalScheduler.RenewalWindows() {
            @Override
            public Optional<RenewalScheduler.Window> window(CertifiedKey certificate) throws Exception {
                for (AcmeIssuer acme : acmeIssuers) {
                    if (acme.label().equals(certificate.issuer())) {
                        return acme.renewalWindow(certificate);
                    }
                }
                return Optional.empty();
            }

            @Override
            public boolean covers(String issuer) {
                return acmeIssuers.stream().anyMatch(acme -> acme.label().equals(issuer));
            }
        };
    }

    /**
     * A profile the CA does not offer stops the start with the profiles it does; a CA that cannot be asked now does
     * not (its orders check again, and fail with the same words).
     */
    private static void checkProfile(AcmeIssuer acme, String keyPath) {
        try {
            acme.checkProfile();
        } catch (AcmeIssuer.ProfileNotOfferedException e) {
            throw new IllegalArgumentException(keyPath + e.getMessage(), e);
        } catch (AcmeException | RuntimeException e) {
            log.warn("cannot check the ACME profile against {} now: {}", acme.label(), e.toString());
        }
    }

    /**
     * The DNS server the status page asks: {@code tuning.dns_server}, else {@code on_demand.dns_server}, as the node
     * started with them, else the system's.
     */
    /**
     * The storage backend {@code config} names: the one place that picks an implementation of {@link Storage} (the
     * node and {@code doctor} both open it here). Creates what it needs (the folder). Fails when the database cannot
     * be reached: for tools, which need it. Blocking.
     */
    public static Storage openStorage(ClickTlsConfig config) throws IOException {
        if (config.storage().postgres() != null) {
            return PostgresStorage.open(postgresSettings(config));
        }
        return new FileStorage(config.storage().directory());
    }

    /** The config's database, with this node's {@code node.name} as the owner written into the leases it takes. */
    private static PostgresSettings postgresSettings(ClickTlsConfig config) {
        return PostgresSettings.from(config.storage().postgres())
                .withOwner(config.node().name());
    }

    /**
     * {@link #openStorage} for a node: a database that cannot be reached does not stop the start (the node serves
     * from its local copy and connects in the background). Blocking.
     */
    private static Storage startStorage(ClickTlsConfig config) throws IOException {
        if (config.storage().postgres() != null) {
            return PostgresStorage.start(postgresSettings(config));
        }
        return new FileStorage(config.storage().directory());
    }

    /**
     * {@code database} with the node's local copy in {@code folder}; without one (and a warning) where the folder
     * cannot be made: the copy is for outages, and must not stop a start while the database answers.
     */
    private Storage localCopy(Storage database, PostgresStorage postgres, Path folder) {
        try {
            return new CachedStorage(
                    database,
                    FileStorage.withoutSync(folder),
                    postgres.sealing(),
                    copyUpdates(),
                    CopyPacing.background());
        } catch (IOException e) {
            log.warn(
                    "no local copy of the database at {} ({}): a restart while the database is down will serve"
                            + " nothing; set storage.postgres.cache_directory to a writable folder",
                    folder,
                    e.toString());
            return database;
        }
    }

    /**
     * The thread that keeps a node's local copy of the database up to date, off the reads handshakes wait for; one,
     * so that updates land in order; closed after the storage.
     */
    private Executor copyUpdates() {
        ThreadPoolExecutor executor =
                new ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS, new ArrayBlockingQueue<>(10_000), runnable -> {
                    Thread thread = new Thread(runnable, "clicktls-storage-copy");
                    thread.setDaemon(true);
                    return thread;
                });
        closeInReverse.add(executor::shutdown);
        return executor;
    }

    /**
     * Why the node is degraded, for {@code /healthz} and the status page: the shared storage unreachable (what still
     * works and what waits), else writes the storage does not take.
     */
    private static Optional<String> degraded(Supplier<Optional<String>> outage, RetryingStorage storage) {
        Optional<String> down = outage.get();
        if (down.isEmpty()) {
            return storage.degraded();
        }
        return Optional.of(down.get() + "; serving the certificates held in memory and in the local copy, new"
                + " certificates wait until it is back");
    }

    /**
     * {@link #openStorage}, or empty when nothing was ever stored there, without creating anything: for {@code doctor},
     * which must not leave a trace. Blocking.
     */
    public static Optional<Storage> existingStorage(ClickTlsConfig config) throws IOException {
        if (config.storage().postgres() != null) {
            return Optional.of(openStorage(config));
        }
        return Files.isDirectory(config.storage().directory()) ? Optional.of(openStorage(config)) : Optional.empty();
    }

    private static InetSocketAddress dnsServer(ClickTlsConfig config) {
        Endpoint configured = config.tuning().dnsServer() != null
                ? config.tuning().dnsServer()
                : config.certificates().onDemand().dnsServer();
        return configured == null ? null : configured.toSocketAddress();
    }

    /** The status page's view of this node: the parts adapted to {@link DomainStatusSource}. */
    private record NodeStatus(
            LiveConfig live,
            CertificateResolver resolver,
            CertificateStore store,
            IssuanceFailures failures,
            IssuanceJournal journal,
            RenewalScheduler renewals,
            IssuancePolicy policy,
            CertificatePrefetch prefetch,
            CertificateCleanup cleanup,
            String issuerLabel,
            Supplier<Optional<String>> outage)
            implements DomainStatusSource {

        @Override
        public ConfigSnapshot config() {
            return live.get();
        }

        @Override
        public Collection<String> namesInMemory() {
            return resolver.inMemory().stream().map(CertifiedKey::name).toList();
        }

        @Override
        public Collection<String> storedNames() throws IOException {
            if (!store.indexReady()) {
                return store.names();
            }
            List<String> names = new ArrayList<>(store.indexSize());
            store.forEachIndexed(stored -> names.add(stored.name()));
            return names;
        }

        @Override
        public Optional<CertifiedKey> inMemory(String name) {
            return resolver.cached(name);
        }

        @Override
        public Optional<CertifiedKey> stored(String name) {
            return store.load(name);
        }

        @Override
        public Optional<String> notPersisted(String name) {
            return store.notPersisted(name);
        }

        @Override
        public Optional<String> issuedByNode(String name) {
            return store.indexed(name).map(StoredCertificate::issuedByNode);
        }

        @Override
        public Optional<Storage.LeaseHolder> orderLease(String name) {
            try {
                return store.storage().leaseHolder(StorageKeys.orderLease(name));
            } catch (IOException | RuntimeException e) {
                return Optional.empty(); // a status row without its lease beats no status page during an outage
            }
        }

        @Override
        public SortedMap<String, Storage.LeaseHolder> ordersInFlight(int limit) throws IOException {
            SortedMap<String, Storage.LeaseHolder> orders = new TreeMap<>();
            for (Storage.CurrentLease lease : store.storage().currentLeases(StorageKeys.ORDER_LEASES, limit)) {
                orders.put(StorageKeys.orderLeaseName(lease.name()), lease.holder());
            }
            return orders;
        }

        @Override
        public boolean issuing(String name) {
            return journal.issuing(name);
        }

        @Override
        public Collection<String> failedNames() {
            return journal.failingNames();
        }

        @Override
        public Optional<IssuanceFailure> lastFailure(String name) {
            return resolver.lastFailure(name);
        }

        @Override
        public Optional<Instant> nextRenewal(String name) {
            return renewals.plannedRenewal(name);
        }

        @Override
        public Optional<Hold> hold(String name) {
            Optional<String> down = outage.get();
            if (down.isPresent() && resolver.cached(name).isEmpty()) {
                return Optional.of(new Hold("storage unreachable, new certificates wait: " + down.get(), null));
            }
            Optional<Hold> limit = policy.hold(name).map(hold -> new Hold(hold.explanation(), hold.retryAt()));
            if (limit.isPresent()) {
                return limit;
            }
            // a listed name not issued ahead of its first click yet says why (waiting for DNS, a limit kept for
            // handshakes); a failed attempt shows as the failure it is (lastFailure)
            return prefetch.waiting(name)
                    .filter(waiting -> waiting.waitingFor() != CertificatePrefetch.WaitingFor.RETRY)
                    .map(waiting -> waiting.waitingFor() == CertificatePrefetch.WaitingFor.DNS
                            ? Hold.waitingForDns(waiting.reason(), waiting.retryAt(), expectedDnsTargets())
                            : new Hold(waiting.reason(), waiting.retryAt()));
        }

        @Override
        public Optional<CertificateCleanup.Mark> marked(String name) {
            return cleanup.marked(name);
        }

        @Override
        public List<String> expectedDnsTargets() {
            return live.get().config().certificates().onDemand().expectDns();
        }

        @Override
        public CaPolicy caPolicy() {
            Certificates certificates = live.get().config().certificates();
            return certificates.issuer() == Certificates.IssuerKind.ACME
                    ? CaPolicy.forAcme(certificates.acme().directory(), issuerLabel)
                    : CaPolicy.INTERNAL;
        }

        @Override
        public CompletableFuture<?> renew(String name) {
            return resolver.renew(name);
        }

        @Override
        public boolean forget(String name) throws IOException {
            boolean had = resolver.cached(name).isPresent()
                    || store.load(name).isPresent()
                    || failures.lastFailure(name).isPresent();
            resolver.forget(name);
            failures.clear(name);
            journal.cleared(name);
            return had;
        }
    }

    private static SslContext upstreamTls() throws IOException {
        return UpstreamTls.context();
    }

    /**
     * Builds the TLS context for upstream connections ahead of the first server start: reading the JDK's trust
     * store takes tens of ms on a cold JVM, work {@link WarmUp}'s thread does while the config is parsed.
     * Any thread; idempotent.
     */
    static void prepareUpstreamTls() {
        try {
            UpstreamTls.context();
        } catch (IOException e) {
            log.debug("upstream TLS context: {}", e.toString()); // start-up reports it
        }
    }

    /**
     * The client context every server of this JVM shares: it holds no per-server state (the JDK's default trust
     * store; platforms' upstreams have public certificates), and servers never released theirs either.
     */
    private static final class UpstreamTls {
        static final UpstreamTls INSTANCE = new UpstreamTls();
        private final SslContext context;
        private final IOException failure;

        private UpstreamTls() {
            SslContext built = null;
            IOException error = null;
            try {
                built = SslContextBuilder.forClient()
                        .protocols("TLSv1.3", "TLSv1.2")
                        .build();
            } catch (IOException e) {
                error = e;
            }
            context = built;
            failure = error;
        }

        static SslContext context() throws IOException {
            if (INSTANCE.failure != null) {
                throw new IOException(INSTANCE.failure.getMessage(), INSTANCE.failure);
            }
            return INSTANCE.context;
        }
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

    /** The TLS contexts of the certificates served, which follow the resolver's events. */
    public TlsContexts contexts() {
        return tlsContexts;
    }

    /** The issuance policy: holds by rate limits, names allowed on demand. */
    public IssuancePolicy policy() {
        return policy;
    }

    public RenewalScheduler renewals() {
        return renewals;
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
