package io.clicktls.metrics;

import com.github.benmanes.caffeine.cache.Cache;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.cache.CaffeineCacheMetrics;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmHeapPressureMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.netty4.NettyAllocatorMetrics;
import io.micrometer.core.instrument.binder.netty4.NettyEventExecutorMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.core.instrument.config.MeterFilter;
import io.micrometer.core.instrument.config.MeterFilterReply;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.EventExecutorGroup;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.function.ToIntBiFunction;
import java.util.function.ToIntFunction;

/**
 * The metrics every part records, with the names of the contract in {@code docs/architecture.md} ("Metrics"). Meters are created once per tag value
 * and cached, so recording on a hot path costs a map lookup and an atomic add. No per-domain tags: a node may
 * serve 100,000 domains. Every meter has a description, which Prometheus shows as HELP. Thread-safe.
 *
 * <p>The JVM, process and Netty binders are bound by {@link #bindRuntime()} and {@link #bindNetty}, not by the
 * constructor: tests make many instances, and the garbage-collector binder hooks into JVM-wide notifications
 * until {@link #close()}.
 */
public final class Metrics implements AutoCloseable {

    /** Handshake duration buckets: 1 ms (a resumed handshake on loopback) to 10 s (one that waited on issuance). */
    static final List<Duration> HANDSHAKE_BUCKETS = List.of(
            Duration.ofMillis(1),
            Duration.ofMillis(2),
            Duration.ofMillis(5),
            Duration.ofMillis(10),
            Duration.ofMillis(25),
            Duration.ofMillis(50),
            Duration.ofMillis(100),
            Duration.ofMillis(250),
            Duration.ofMillis(500),
            Duration.ofSeconds(1),
            Duration.ofMillis(2500),
            Duration.ofSeconds(5),
            Duration.ofSeconds(10));

    /**
     * Storage operation buckets: 0.5 ms (a file, a warm database row), then the handshake's up to 5 s (past the
     * database pool's 2 s connection timeout).
     */
    static final List<Duration> STORAGE_BUCKETS = java.util.stream.Stream.concat(
                    java.util.stream.Stream.of(Duration.ofNanos(500_000)),
                    HANDSHAKE_BUCKETS.stream().filter(bucket -> bucket.compareTo(Duration.ofSeconds(5)) <= 0))
            .toList();

    private static final int STATUS_CODES = 500;

    // ---- label values known in advance: their series are exported at 0 from the start ("avoid missing metrics")

    /** {@code clicktls_tls_handshakes_total{result}}: the results {@code TlsSelectionHandler} records. */
    public static final List<String> HANDSHAKE_RESULTS =
            List.of("ok", "unknown_name", "no_sni", "malformed", "timeout", "backoff", "too_many_pending", "failed");
    /** {@code clicktls_certificates_issued_total{result}}. */
    public static final List<String> ISSUANCE_RESULTS = List.of("ok", "failed");
    /** {@code clicktls_links_upgraded_total{kind}}. */
    public static final List<String> UPGRADE_KINDS = List.of("redirect", "location", "html");
    /** {@code clicktls_on_demand_denied_total{reason}}: {@code IssuancePolicy}'s reasons and the resolver's backoff. */
    public static final List<String> DENIAL_REASONS = List.of(
            "invalid_name",
            "not_configured",
            "no_platform",
            "ask_denied",
            "ask_unavailable",
            "ask_busy",
            "dns_elsewhere",
            "dns_not_found",
            "dns_unavailable",
            "caa_forbids",
            "rate_limited",
            "too_many_pending",
            "backoff",
            "client_budget",
            "storage_unavailable");
    /** {@code clicktls_certificates_prefetched_total{result}}: how tries to issue a listed name ahead of a click ended. */
    public static final List<String> PREFETCH_RESULTS =
            List.of("issued", "waiting_for_dns", "rate_limited", "failed", "refused");
    /** {@code clicktls_config_reloads_total{result}}. */
    public static final List<String> RELOAD_RESULTS = List.of("ok", "rejected");
    /** {@code clicktls_admin_actions_total{action}}. */
    public static final List<String> ADMIN_ACTIONS = List.of("renew", "forget");
    /** {@code clicktls_client_errors_total{kind}}: see {@code io.clicktls.http.ClientErrorLog} for what each is. */
    public static final List<String> CLIENT_ERROR_KINDS =
            List.of("connection", "tls", "http2", "too_long", "malformed", "timeout");
    /** {@code clicktls_connections{listener}} and the listeners connections are refused on. */
    public static final List<String> LISTENERS = List.of("https", "http");
    /**
     * {@code clicktls_connections_refused_total{reason}}: the two {@code limits:} keys, and a source not listed in
     * {@code listen.proxy_protocol.from} while PROXY protocol is on.
     */
    public static final List<String> REFUSAL_REASONS =
            List.of("max_connections", "max_connections_per_client", "proxy_protocol");
    /**
     * {@code clicktls_certificate_issuance_failures_total{issuer,reason}}: why an issuer could not issue (the CA down or
     * failing, its rate limit, a failed validation, anything else).
     */
    public static final List<String> ISSUER_FAILURE_REASONS = List.of("outage", "rate_limited", "validation", "other");
    /** {@code clicktls_certificates_stored{issuer,state}}: the states a stored certificate's dates give it. */
    public static final List<String> STORED_STATES = List.of("valid", "expiring", "expired");
    /** {@code clicktls_accept_errors_total{reason}}: a listener's accept failed (the connection waits in the queue). */
    public static final List<String> ACCEPT_ERROR_REASONS = List.of("out_of_descriptors", "other");
    /**
     * {@code clicktls_lease_waits_total{outcome}}: how a wait for another node's order ended: its certificate came,
     * its lease expired without one (this node took over), or the wait ran out.
     */
    public static final List<String> LEASE_WAIT_OUTCOMES = List.of("certificate", "expired", "timeout");

    private final PrometheusMeterRegistry registry;
    /** HELP text for meters of binders that register none (Netty's), so that every series has one. */
    private static final Map<String, String> MISSING_DESCRIPTIONS = Map.of(
            "netty.allocator.memory.used", "Memory held by Netty's buffer allocator",
            "netty.allocator.memory.pinned", "Memory of Netty's buffer allocator in buffers in use",
            "netty.allocator.pooled.arenas", "Arenas of Netty's pooled buffer allocator",
            "netty.allocator.pooled.cache.size", "Cache size of Netty's pooled buffer allocator",
            "netty.allocator.pooled.threadlocal.caches", "Thread-local caches of Netty's pooled buffer allocator",
            "netty.allocator.pooled.chunk.size", "Chunk size of Netty's pooled buffer allocator",
            "netty.eventexecutor.tasks.pending", "Tasks waiting to run on a Netty event loop");

    /** The HELP text of each counter with one label, by name. */
    private static final Map<String, String> LABELLED_HELP = Map.ofEntries(
            Map.entry("clicktls.tls.handshakes", "TLS handshakes by outcome"),
            Map.entry("clicktls.certificates.issued", "Certificates issued or renewed, by outcome"),
            Map.entry("clicktls.links.upgraded", "Tracked links upgraded from http to https"),
            Map.entry("clicktls.on.demand.denied", "On-demand certificate requests refused, by reason"),
            Map.entry("clicktls.config.reloads", "Config file reloads, by outcome"),
            Map.entry(
                    "clicktls.certificates.prefetched",
                    "Tries to issue a listed name ahead of the first handshake, by outcome"),
            Map.entry("clicktls.admin.actions", "Certificate actions asked for on the admin listener, by action"),
            Map.entry(
                    "clicktls.storage.write.failures",
                    "Storage writes not persisted when made (full or read-only storage), by kind"),
            Map.entry(
                    "clicktls.client.errors",
                    "Client connections or streams closed on an error the client caused, by kind"),
            Map.entry(
                    "clicktls.connections.refused",
                    "Client connections closed at once because a connection limit was reached"),
            Map.entry("clicktls.accept.errors", "Failed accepts on the https and http listeners, by reason"));

    /** Every counter with one label, so that {@link #registerKnownSeries} finds them all; declared first. */
    private final List<LabelledCounter> labelled = new ArrayList<>();

    private final LabelledCounter handshakes = labelled("clicktls.tls.handshakes", "result", HANDSHAKE_RESULTS);
    private final LabelledCounter issued = labelled("clicktls.certificates.issued", "result", ISSUANCE_RESULTS);
    /** Per platform, the counters by status code (index {@code code - 100}): a lookup without building a key. */
    private final ConcurrentMap<String, AtomicReferenceArray<Counter>> requests = new ConcurrentHashMap<>();

    private final LabelledCounter upgraded = labelled("clicktls.links.upgraded", "kind", UPGRADE_KINDS);
    private final LabelledCounter denied = labelled("clicktls.on.demand.denied", "reason", DENIAL_REASONS);
    private final LabelledCounter reloads = labelled("clicktls.config.reloads", "result", RELOAD_RESULTS);
    private final LabelledCounter prefetched = labelled("clicktls.certificates.prefetched", "result", PREFETCH_RESULTS);
    private final LabelledCounter adminActions = labelled("clicktls.admin.actions", "action", ADMIN_ACTIONS);
    /** Its kinds are the storage's, known once {@link #storageWrites} is called. */
    private final LabelledCounter storageWriteFailures = labelled("clicktls.storage.write.failures", "kind", List.of());

    private final LabelledCounter clientErrors = labelled("clicktls.client.errors", "kind", CLIENT_ERROR_KINDS);
    private final LabelledCounter refusedConnections =
            labelled("clicktls.connections.refused", "reason", REFUSAL_REASONS);
    private final LabelledCounter acceptErrors = labelled("clicktls.accept.errors", "reason", ACCEPT_ERROR_REASONS);
    /** By operation, for the one storage backend of the node. */
    private final ConcurrentMap<String, Timer> storageTimes = new ConcurrentHashMap<>();

    private final ConcurrentMap<String, Counter> storageErrors = new ConcurrentHashMap<>();
    private final ConcurrentMap<String, AtomicLong> openConnections = new ConcurrentHashMap<>();
    /** By issuer label and reason, joined with a line feed (which no label contains). */
    private final ConcurrentMap<String, Counter> issuerFailures = new ConcurrentHashMap<>();
    /** By the first issuer's label and the signer's, joined with a line feed. */
    private final ConcurrentMap<String, Counter> fallbacks = new ConcurrentHashMap<>();

    private final Counter unexpectedErrors;
    private final ConcurrentMap<String, Counter> leaseWaits = new ConcurrentHashMap<>();
    private final AtomicLong leasesHeld = new AtomicLong();
    private final Counter leasesLost;
    private final Set<String> caches = ConcurrentHashMap.newKeySet();
    private final Timer issuance;
    private final Timer upstream;
    private final Timer handshakeTime;
    private final AtomicLong lastReloadSuccessful = new AtomicLong(1);
    private final AtomicLong lastReloadSuccessMillis = new AtomicLong(System.currentTimeMillis());
    private final List<AutoCloseable> bound = new ArrayList<>();
    private boolean runtimeBound;

    public Metrics() {
        this(new PrometheusMeterRegistry(PrometheusConfig.DEFAULT));
    }

    public Metrics(PrometheusMeterRegistry registry) {
        this.registry = registry;
        registry.config().meterFilter(promtoolClean());
        this.issuance = Timer.builder("clicktls.certificate.issuance")
                .description("Time to obtain a new certificate, from decision to stored chain")
                .serviceLevelObjectives(
                        Duration.ofMillis(100),
                        Duration.ofMillis(250),
                        Duration.ofMillis(500),
                        Duration.ofSeconds(1),
                        Duration.ofSeconds(2),
                        Duration.ofSeconds(5),
                        Duration.ofSeconds(10),
                        Duration.ofSeconds(30),
                        Duration.ofSeconds(60))
                .register(registry);
        this.upstream = Timer.builder("clicktls.upstream")
                .description("Time from sending a request upstream to the upstream's response headers")
                // the handshake's scale from 5 ms on: 5 ms to 10 s
                .serviceLevelObjectives(
                        HANDSHAKE_BUCKETS.subList(2, HANDSHAKE_BUCKETS.size()).toArray(Duration[]::new))
                .register(registry);
        this.handshakeTime = Timer.builder("clicktls.tls.handshake")
                .description("Time from the ClientHello to a completed TLS handshake, waits for issuance included")
                .serviceLevelObjectives(HANDSHAKE_BUCKETS.toArray(Duration[]::new))
                .register(registry);
        Gauge.builder("clicktls.config.last.reload.successful", lastReloadSuccessful, AtomicLong::get)
                .description("1 when the last config load or reload was accepted, 0 when it was rejected")
                .register(registry);
        Gauge.builder(
                        "clicktls.config.last.reload.success.timestamp",
                        lastReloadSuccessMillis,
                        millis -> millis.get() / 1000.0)
                .description("When the config in force was loaded, as seconds since the Unix epoch")
                .baseUnit("seconds")
                .register(registry);
        this.unexpectedErrors = Counter.builder("clicktls.unexpected.errors")
                .description("Errors on client connections that no client can cause: bugs, logged with a stack trace")
                .register(registry);
        Gauge.builder("clicktls.leases.held", leasesHeld, AtomicLong::get)
                .description("Names whose order lease (one order per name in the cluster) this node holds now")
                .register(registry);
        this.leasesLost = Counter.builder("clicktls.lease.lost")
                .description("Certificates not written because this node's lease had been taken over (fenced)")
                .register(registry);
        registerKnownSeries();
    }

    /** An order lease taken ({@code +1}) or given up ({@code -1}). */
    public void leasesHeld(int change) {
        leasesHeld.addAndGet(change);
    }

    /** @param outcome one of {@link #LEASE_WAIT_OUTCOMES} */
    public void leaseWaitEnded(String outcome) {
        counter(leaseWaits, outcome, this::leaseWaitCounter).increment();
    }

    private Counter leaseWaitCounter(String outcome) {
        return labelledCounter(
                "clicktls.lease.waits",
                "Waits for another node's order of a name, by how they ended",
                "outcome",
                outcome);
    }

    /** A fenced write refused: another node holds the name's lease now. */
    public void leaseLost() {
        leasesLost.increment();
    }

    /**
     * Binds the JVM and process meters: memory, garbage collection, threads, class loading, CPU, uptime, file
     * descriptors. Once per instance; {@link #close()} unbinds what needs it.
     */
    public synchronized void bindRuntime() {
        if (runtimeBound) {
            return;
        }
        runtimeBound = true;
        new JvmMemoryMetrics().bindTo(registry);
        JvmGcMetrics gc = new JvmGcMetrics();
        gc.bindTo(registry);
        bound.add(gc);
        // the heap still in use after a collection, as a fraction of the maximum (README's command bounds the heap):
        // what ClickTlsHeapNearlyFull in docker/alerts.yml watches
        JvmHeapPressureMetrics pressure = new JvmHeapPressureMetrics();
        pressure.bindTo(registry);
        bound.add(pressure);
        new JvmThreadMetrics().bindTo(registry);
        new ClassLoaderMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            // Prometheus' usual name, in the base unit (Micrometer's own is in nanoseconds, which promtool flags)
            FunctionCounter.builder("process.cpu", os, bean -> Math.max(0, bean.getProcessCpuTime()) / 1e9)
                    .description("CPU time used by the process")
                    .baseUnit("seconds")
                    .register(registry);
        }
        new UptimeMetrics().bindTo(registry);
        new FileDescriptorMetrics().bindTo(registry);
    }

    /**
     * Binds Netty's meters: the default buffer allocator's memory and the pending tasks of every event loop in
     * {@code groups} (one series per event loop thread: as many as cores, not per connection).
     */
    public synchronized void bindNetty(EventExecutorGroup... groups) {
        if (ByteBufAllocator.DEFAULT instanceof ByteBufAllocatorMetricProvider provider) {
            new NettyAllocatorMetrics(provider).bindTo(registry);
        }
        List<EventExecutor> executors = new ArrayList<>();
        for (EventExecutorGroup group : groups) {
            group.forEach(executors::add);
        }
        new NettyEventExecutorMetrics(executors).bindTo(registry);
    }

    /**
     * Exposes a Caffeine cache's size, hits, misses, puts and evictions as {@code cache_*{cache="name"}}. Hits and
     * misses count only if the cache was built with {@code Caffeine.recordStats()}. A second call for one name is
     * ignored.
     *
     * @param name a short fixed label such as {@code certificates} or {@code ask_decisions}; never a domain
     */
    public void cache(String name, Cache<?, ?> cache) {
        if (caches.add(name)) {
            CaffeineCacheMetrics.monitor(registry, cache, name);
        }
    }

    /**
     * Records how long one successful TLS handshake took: from the ClientHello's arrival to the handshake's
     * completion, waits for a certificate included. Cheap; runs on an event loop.
     */
    public void handshakeDuration(long nanos) {
        handshakeTime.record(nanos, TimeUnit.NANOSECONDS);
    }

    /**
     * Keeps the exposition free of what {@code promtool check metrics} flags in third-party binders: a missing
     * HELP text, a non-base unit ({@code process_cpu_time_ns_total}, replaced by {@code process_cpu_seconds_total})
     * and a gauge named {@code *_count} ({@code system_cpu_count}, renamed {@code system_cpu_cores}).
     */
    private static MeterFilter promtoolClean() {
        return new MeterFilter() {
            @Override
            public MeterFilterReply accept(Meter.Id id) {
                return id.getName().equals("process.cpu.time") ? MeterFilterReply.DENY : MeterFilterReply.NEUTRAL;
            }

            @Override
            public Meter.Id map(Meter.Id id) {
                Meter.Id mapped = id.getName().equals("system.cpu.count") ? id.withName("system.cpu.cores") : id;
                if (mapped.getDescription() != null && !mapped.getDescription().isBlank()) {
                    return mapped;
                }
                String description = MISSING_DESCRIPTIONS.getOrDefault(
                        mapped.getName(), mapped.getName().replace('.', ' '));
                return new Meter.Id(
                        mapped.getName(),
                        Tags.of(mapped.getTags()),
                        mapped.getBaseUnit(),
                        description,
                        mapped.getType());
            }
        };
    }

    /** Unbinds the meters that hook into the JVM (garbage-collection notifications). */
    @Override
    public synchronized void close() {
        for (AutoCloseable closeable : bound) {
            try {
                closeable.close();
            } catch (Exception e) {
                // only listener removal: nothing to recover
            }
        }
        bound.clear();
    }

    public PrometheusMeterRegistry registry() {
        return registry;
    }

    /** The Prometheus text exposition of every meter. */
    public String scrape() {
        return registry.scrape();
    }

    /** @param result e.g. {@code ok}, {@code unknown_name}, {@code no_sni}, {@code timeout}, {@code failed} */
    public void handshake(String result) {
        handshakes.get(result).increment();
    }

    /** @param result {@code ok} or {@code failed} */
    public void certificateIssued(String result, long nanos) {
        issued.get(result).increment();
        issuance.record(nanos, TimeUnit.NANOSECONDS);
    }

    /** Per request: two lookups and an atomic add, nothing allocated once the counter exists. */
    public void request(String platform, int code) {
        AtomicReferenceArray<Counter> byCode = requests.get(platform);
        if (byCode == null) {
            byCode = requests.computeIfAbsent(platform, p -> new AtomicReferenceArray<>(STATUS_CODES));
        }
        int index = code - 100;
        if (index < 0 || index >= STATUS_CODES) {
            requestCounter(platform, code).increment(); // not a standard status code: rare, no need to be quick
            return;
        }
        Counter counter = byCode.get(index);
        if (counter == null) {
            // the registry returns the one counter for these tags, also when two threads get here at once
            counter = requestCounter(platform, code);
            byCode.set(index, counter);
        }
        counter.increment();
    }

    private Counter requestCounter(String platform, int code) {
        return Counter.builder("clicktls.requests")
                .description("Requests answered, by platform and status code")
                .tag("platform", platform)
                .tag("code", Integer.toString(code))
                .register(registry);
    }

    public void upstreamLatency(long nanos) {
        upstream.record(nanos, TimeUnit.NANOSECONDS);
    }

    /** @param kind {@code redirect}, {@code location} or {@code html} */
    public void linkUpgraded(String kind, int count) {
        upgraded.get(kind).increment(count);
    }

    /** @param reason e.g. {@code not_configured}, {@code invalid_name}, {@code ask_denied}, {@code rate_limited} */
    public void onDemandDenied(String reason) {
        denied.get(reason).increment();
    }

    /** @param result {@code ok} or {@code rejected} */
    public void configReload(String result) {
        if ("ok".equals(result)) {
            lastReloadSuccessful.set(1);
            lastReloadSuccessMillis.set(System.currentTimeMillis());
        } else {
            lastReloadSuccessful.set(0);
        }
        reloads.get(result).increment();
    }

    /** Registers the certificate gauges; the suppliers are read at scrape time and must be cheap. */
    public void certificateGauges(Supplier<Number> count, Supplier<Number> secondsUntilEarliestExpiry) {
        gauge("clicktls.certificates", "Certificates held in memory", count);
        Gauge.builder("clicktls.certificate.expiry.earliest", secondsUntilEarliestExpiry)
                .description("Seconds until the soonest certificate expiry")
                .baseUnit("seconds")
                .register(registry);
    }

    /**
     * Registers the gauges of listed names issued ahead of the first handshake: queued or being issued, and waiting
     * (for DNS, a limit, a failure's backoff). Read at scrape time; must be cheap.
     */
    public void prefetchGauges(Supplier<Number> queued, Supplier<Number> waiting) {
        gauge(
                "clicktls.certificates.prefetch.queued",
                "Listed names without a certificate queued or being issued ahead of the first handshake",
                queued);
        gauge(
                "clicktls.certificates.prefetch.waiting",
                "Listed names without a certificate waiting for DNS, a rate limit or a retry",
                waiting);
    }

    /**
     * Registers {@code clicktls_certificate_lifetime_remaining_ratio_min}: the smallest remaining fraction of a
     * lifetime among stored certificates (NaN when none), for one alert over 6-day and 90-day certificates alike. Read
     * at scrape time; must be cheap.
     */
    public void lifetimeRemainingGauge(Supplier<Number> smallestFraction) {
        gauge(
                "clicktls.certificate.lifetime.remaining.ratio.min",
                "Smallest fraction of its lifetime any stored certificate has left (renewal starts at 1/3)",
                smallestFraction);
    }

    /** @param result one of {@link #PREFETCH_RESULTS} */
    public void prefetched(String result) {
        prefetched.get(result).increment();
    }

    /** @param action {@code renew} or {@code forget}, asked for through the admin API or the status page */
    public void adminAction(String action) {
        adminActions.get(action).increment();
    }

    /** Registers the gauge of names whose last issuance failed; read at scrape time, must be cheap. */
    public void failingNamesGauge(Supplier<Number> count) {
        gauge("clicktls.certificates.failing", "Host names whose last issuance or renewal attempt failed", count);
    }

    /**
     * Registers {@code clicktls_storage_write_failures_total{kind}} (writes the storage could not take when they were
     * made, counted by {@link #storageWriteFailed}) and the gauge {@code clicktls_storage_pending_writes{kind}} (those
     * still waiting in memory), both at 0 for every kind from the start, and {@code clicktls_storage_writable} (1 while
     * nothing waits and the storage takes writes, else 0).
     *
     * @param pending read at scrape time, must be cheap
     * @param writable read at scrape time, must be cheap
     */
    public void storageWrites(List<String> kinds, ToIntFunction<String> pending, BooleanSupplier writable) {
        Gauge.builder("clicktls.storage.writable", () -> writable.getAsBoolean() ? 1 : 0)
                .description("1 while the storage takes writes and nothing waits in memory to be written, else 0")
                .register(registry);
        for (String kind : kinds) {
            storageWriteFailures.get(kind);
            Gauge.builder("clicktls.storage.pending.writes", () -> pending.applyAsInt(kind))
                    .description("Storage writes kept in memory until the storage takes writes again, by kind")
                    .tag("kind", kind)
                    .register(registry);
        }
    }

    /** @param kind e.g. {@code certificate} or {@code rate_limit} */
    public void storageWriteFailed(String kind) {
        storageWriteFailures.get(kind).increment();
    }

    // ---- issuers

    /**
     * Registers the series of the configured issuers at 0: {@code clicktls_certificate_issuance_failures_total} for each
     * issuer and {@link #ISSUER_FAILURE_REASONS reason}, {@code clicktls_issuer_fallbacks_total} from the first issuer
     * to each other one, and the gauge {@code clicktls_certificates_stored{issuer,state}} for each issuer and each of
     * {@link #STORED_STATES}, plus the issuer {@code other} (certificates of issuers no longer configured).
     *
     * @param labels the issuers' labels in order of preference
     * @param stored the count for an issuer and state, read at scrape time; must be cheap
     */
    public void issuers(List<String> labels, ToIntBiFunction<String, String> stored) {
        for (String issuer : labels) {
            ISSUER_FAILURE_REASONS.forEach(reason -> issuerFailureCounter(issuer, reason));
        }
        for (String to : labels.subList(1, labels.size())) {
            fallbackCounter(labels.get(0), to);
        }
        List<String> withOther = new ArrayList<>(labels);
        if (!withOther.contains("other")) {
            withOther.add("other");
        }
        for (String issuer : withOther) {
            for (String state : STORED_STATES) {
                Gauge.builder("clicktls.certificates.stored", () -> stored.applyAsInt(issuer, state))
                        .description("Stored certificates by the issuer that signed them and by state (valid, "
                                + "expiring: less than a third of the lifetime left, expired)")
                        .tag("issuer", issuer)
                        .tag("state", state)
                        .register(registry);
            }
        }
    }

    /**
     * Registers, at 0 for each of {@code operations}, {@code clicktls_storage_operation_seconds{backend,operation}} (a
     * histogram of the backend's own time per operation) and {@code clicktls_storage_errors_total{backend,operation}},
     * and the gauge {@code clicktls_storage_up{backend}} (1 while the backend answers, 0 while it cannot be reached).
     *
     * @param backend {@code file} or {@code postgres}
     * @param up read at scrape time, must be cheap
     */
    public void storageOperations(String backend, List<String> operations, BooleanSupplier up) {
        Gauge.builder("clicktls.storage.up", () -> up.getAsBoolean() ? 1 : 0)
                .description("1 while the storage backend answers, 0 while it cannot be reached")
                .tag("backend", backend)
                .register(registry);
        for (String operation : operations) {
            storageTimes.computeIfAbsent(operation, op -> Timer.builder("clicktls.storage.operation")
                    .description("Time the storage backend took per operation, failed ones included")
                    .tag("backend", backend)
                    .tag("operation", op)
                    .serviceLevelObjectives(STORAGE_BUCKETS.toArray(Duration[]::new))
                    .register(registry));
            storageErrors.computeIfAbsent(operation, op -> Counter.builder("clicktls.storage.errors")
                    .description("Storage backend operations that failed, by operation")
                    .tag("backend", backend)
                    .tag("operation", op)
                    .register(registry));
        }
    }

    /**
     * Records one storage operation registered by {@link #storageOperations}; others are ignored. Cheap; runs on the
     * thread that did the I/O.
     */
    public void storageOperation(String operation, long nanos, boolean failed) {
        Timer timer = storageTimes.get(operation);
        if (timer != null) {
            timer.record(nanos, TimeUnit.NANOSECONDS);
        }
        if (failed) {
            Counter errors = storageErrors.get(operation);
            if (errors != null) {
                errors.increment();
            }
        }
    }

    /** @param reason one of {@link #ISSUER_FAILURE_REASONS} */
    public void issuerFailed(String issuer, String reason) {
        issuerFailureCounter(issuer, reason).increment();
    }

    private Counter issuerFailureCounter(String issuer, String reason) {
        return counter(
                issuerFailures, issuer + "\n" + reason, key -> Counter.builder("clicktls.certificate.issuance.failures")
                        .description("Orders an issuer could not complete, by issuer and reason (outage, rate_limited, "
                                + "validation, other)")
                        .tag("issuer", issuer)
                        .tag("reason", reason)
                        .register(registry));
    }

    /** A certificate was signed by {@code to} rather than by the first issuer, {@code from}. */
    public void issuerFellBack(String from, String to) {
        fallbackCounter(from, to).increment();
    }

    private Counter fallbackCounter(String from, String to) {
        return counter(fallbacks, from + "\n" + to, key -> Counter.builder("clicktls.issuer.fallbacks")
                .description("Certificates signed by a later issuer because the first one was down, rate-limited or"
                        + " failing validation, by the first issuer and the signer")
                .tag("from", from)
                .tag("to", to)
                .register(registry));
    }

    /** For sizes such as rewritten body bytes; created on first use. */
    public DistributionSummary summary(String name, String description) {
        return DistributionSummary.builder(name).description(description).register(registry);
    }

    // ---- connections, their limits and client errors

    /**
     * A client connection was accepted on {@code listener} ({@code https} or {@code http}); pair with
     * {@link #connectionClosed}. Any thread.
     */
    public void connectionOpened(String listener) {
        connectionsOn(listener).incrementAndGet();
    }

    public void connectionClosed(String listener) {
        connectionsOn(listener).decrementAndGet();
    }

    private AtomicLong connectionsOn(String listener) {
        AtomicLong open = openConnections.get(listener);
        return open != null ? open : openConnections.computeIfAbsent(listener, this::connectionsGauge);
    }

    private AtomicLong connectionsGauge(String listener) {
        AtomicLong open = new AtomicLong();
        Gauge.builder("clicktls.connections", open, AtomicLong::get)
                .description("Client connections open, by listener")
                .tag("listener", listener)
                .strongReference(true)
                .register(registry);
        return open;
    }

    /** Registers the gauge of the connection limit in force ({@code limits.max_connections}); read at scrape time. */
    public void connectionLimitGauge(Supplier<Number> limit) {
        gauge(
                "clicktls.connections.limit",
                "Client connections the https and http listeners accept together (limits.max_connections)",
                limit);
    }

    /** @param reason one of {@link #REFUSAL_REASONS} */
    public void connectionRefused(String reason) {
        refusedConnections.get(reason).increment();
    }

    /** @param reason one of {@link #ACCEPT_ERROR_REASONS} */
    public void acceptError(String reason) {
        acceptErrors.get(reason).increment();
    }

    /** @param kind one of {@link #CLIENT_ERROR_KINDS} */
    public void clientError(String kind) {
        clientErrors.get(kind).increment();
    }

    /** An error on a client connection that points at a bug of ours rather than at the client. */
    public void unexpectedError() {
        unexpectedErrors.increment();
    }

    /** Creates every series whose label values are known in advance, at 0, so that none appears only later. */
    private void registerKnownSeries() {
        labelled.forEach(LabelledCounter::registerKnown);
        LEASE_WAIT_OUTCOMES.forEach(o -> counter(leaseWaits, o, this::leaseWaitCounter));
        LISTENERS.forEach(this::connectionsOn);
    }

    /** Registers a gauge without labels, read at scrape time. */
    private void gauge(String name, String description, Supplier<Number> value) {
        Gauge.builder(name, value).description(description).register(registry);
    }

    /** Registers (or finds, when registered before) the counter {@code name} with one label set to {@code value}. */
    private Counter labelledCounter(String name, String description, String label, String value) {
        return Counter.builder(name).description(description).tag(label, value).register(registry);
    }

    private static Counter counter(ConcurrentMap<String, Counter> cache, String key, Function<String, Counter> create) {
        Counter counter = cache.get(key);
        return counter != null ? counter : cache.computeIfAbsent(key, create);
    }

    /**
     * A counter with one label: its series by label value, each registered on first use and then found with one map
     * lookup; the values known in advance are registered at 0 by {@link #registerKnownSeries}. Thread-safe.
     */
    private final class LabelledCounter {
        private final String name;
        private final String label;
        private final List<String> known;
        private final ConcurrentMap<String, Counter> byValue = new ConcurrentHashMap<>();

        LabelledCounter(String name, String label, List<String> known) {
            this.name = name;
            this.label = label;
            this.known = known;
        }

        Counter get(String value) {
            return counter(byValue, value, v -> labelledCounter(name, LABELLED_HELP.get(name), label, v));
        }

        void registerKnown() {
            known.forEach(this::get);
        }
    }

    /** @param name a key of {@link #LABELLED_HELP} */
    private LabelledCounter labelled(String name, String label, List<String> known) {
        LabelledCounter counter = new LabelledCounter(name, label, known);
        labelled.add(counter);
        return counter;
    }
}
