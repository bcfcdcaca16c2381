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
            "client_budget");
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
    /** {@code clicktls_connections_refused_total{reason}}: the two {@code limits:} keys. */
    public static final List<String> REFUSAL_REASONS = List.of("max_connections", "max_connections_per_client");
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

    private final ConcurrentMap<String, Counter> handshakes = new ConcurrentHashMap<>();
    private final ConcurrentMap<String, Counter> issued = new ConcurrentHashMap<>();
    /** Per platform, the counters by status code (index {@code code - 100}): a lookup without building a key. */
    private final ConcurrentMap<String, AtomicReferenceArray<Counter>> requests = new ConcurrentHashMap<>();

    private final ConcurrentMap<String, Counter> upgraded = new ConcurrentHashMap<>();
    private final ConcurrentMap<String, Counter> denied = new ConcurrentHashMap<>();
    private final ConcurrentMap<String, Counter> reloads = new ConcurrentHashMap<>();
    private final ConcurrentMap<String, Counter> prefetched = new ConcurrentHashMap<>();
    private final ConcurrentMap<String, Counter> adminActions = new ConcurrentHashMap<>();
    private final ConcurrentMap<String, Counter> storageWriteFailures = new ConcurrentHashMap<>();
    private final ConcurrentMap<String, Counter> clientErrors = new ConcurrentHashMap<>();
    private final ConcurrentMap<String, Counter> refusedConnections = new ConcurrentHashMap<>();
    private final ConcurrentMap<String, Counter> acceptErrors = new ConcurrentHashMap<>();
    private final ConcurrentMap<String, AtomicLong> openConnections = new ConcurrentHashMap<>();
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
                .serviceLevelObjectives(
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
                        Duration.ofSeconds(10))
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
        counter(handshakes, result, this::handshakeCounter).increment();
    }

    private Counter handshakeCounter(String result) {
        return labelledCounter("clicktls.tls.handshakes", "TLS handshakes by outcome", "result", result);
    }

    /** @param result {@code ok} or {@code failed} */
    public void certificateIssued(String result, long nanos) {
        counter(issued, result, this::issuedCounter).increment();
        issuance.record(nanos, TimeUnit.NANOSECONDS);
    }

    private Counter issuedCounter(String result) {
        return labelledCounter(
                "clicktls.certificates.issued", "Certificates issued or renewed, by outcome", "result", result);
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
        counter(upgraded, kind, this::upgradedCounter).increment(count);
    }

    private Counter upgradedCounter(String kind) {
        return labelledCounter("clicktls.links.upgraded", "Tracked links upgraded from http to https", "kind", kind);
    }

    /** @param reason e.g. {@code not_configured}, {@code invalid_name}, {@code ask_denied}, {@code rate_limited} */
    public void onDemandDenied(String reason) {
        counter(denied, reason, this::deniedCounter).increment();
    }

    private Counter deniedCounter(String reason) {
        return labelledCounter(
                "clicktls.on.demand.denied", "On-demand certificate requests refused, by reason", "reason", reason);
    }

    /** @param result {@code ok} or {@code rejected} */
    public void configReload(String result) {
        if ("ok".equals(result)) {
            lastReloadSuccessful.set(1);
            lastReloadSuccessMillis.set(System.currentTimeMillis());
        } else {
            lastReloadSuccessful.set(0);
        }
        counter(reloads, result, this::reloadsCounter).increment();
    }

    private Counter reloadsCounter(String result) {
        return labelledCounter("clicktls.config.reloads", "Config file reloads, by outcome", "result", result);
    }

    /** Registers the certificate gauges; the suppliers are read at scrape time and must be cheap. */
    public void certificateGauges(Supplier<Number> count, Supplier<Number> secondsUntilEarliestExpiry) {
        Gauge.builder("clicktls.certificates", count)
                .description("Certificates held in memory")
                .register(registry);
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
        Gauge.builder("clicktls.certificates.prefetch.queued", queued)
                .description("Listed names without a certificate queued or being issued ahead of the first handshake")
                .register(registry);
        Gauge.builder("clicktls.certificates.prefetch.waiting", waiting)
                .description("Listed names without a certificate waiting for DNS, a rate limit or a retry")
                .register(registry);
    }

    /**
     * Registers {@code clicktls_certificate_lifetime_remaining_ratio_min}: the smallest remaining fraction of a
     * lifetime among stored certificates (NaN when none), for one alert over 6-day and 90-day certificates alike. Read
     * at scrape time; must be cheap.
     */
    public void lifetimeRemainingGauge(Supplier<Number> smallestFraction) {
        Gauge.builder("clicktls.certificate.lifetime.remaining.ratio.min", smallestFraction)
                .description(
                        "Smallest fraction of its lifetime any stored certificate has left (renewal starts at 1/3)")
                .register(registry);
    }

    /** @param result one of {@link #PREFETCH_RESULTS} */
    public void prefetched(String result) {
        counter(prefetched, result, this::prefetchedCounter).increment();
    }

    private Counter prefetchedCounter(String result) {
        return Counter.builder("clicktls.certificates.prefetched")
                .description("Tries to issue a listed name ahead of the first handshake, by outcome")
                .tag("result", result)
                .register(registry);
    }

    /** @param action {@code renew} or {@code forget}, asked for through the admin API or the status page */
    public void adminAction(String action) {
        counter(adminActions, action, this::adminActionCounter).increment();
    }

    private Counter adminActionCounter(String action) {
        return labelledCounter(
                "clicktls.admin.actions",
                "Certificate actions asked for on the admin listener, by action",
                "action",
                action);
    }

    /** Registers the gauge of names whose last issuance failed; read at scrape time, must be cheap. */
    public void failingNamesGauge(Supplier<Number> count) {
        Gauge.builder("clicktls.certificates.failing", count)
                .description("Host names whose last issuance or renewal attempt failed")
                .register(registry);
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
            storageWriteFailed(kind, 0);
            Gauge.builder("clicktls.storage.pending.writes", () -> pending.applyAsInt(kind))
                    .description("Storage writes kept in memory until the storage takes writes again, by kind")
                    .tag("kind", kind)
                    .register(registry);
        }
    }

    /** @param kind e.g. {@code certificate} or {@code rate_limit} */
    public void storageWriteFailed(String kind) {
        storageWriteFailed(kind, 1);
    }

    private void storageWriteFailed(String kind, int count) {
        counter(
                        storageWriteFailures,
                        kind,
                        k -> labelledCounter(
                                "clicktls.storage.write.failures",
                                "Storage writes not persisted when made (full or read-only storage), by kind",
                                "kind",
                                k))
                .increment(count);
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
        Gauge.builder("clicktls.connections.limit", limit)
                .description("Client connections the https and http listeners accept together (limits.max_connections)")
                .register(registry);
    }

    /** @param reason one of {@link #REFUSAL_REASONS} */
    public void connectionRefused(String reason) {
        counter(refusedConnections, reason, this::refusedCounter).increment();
    }

    private Counter refusedCounter(String reason) {
        return labelledCounter(
                "clicktls.connections.refused",
                "Client connections closed at once because a connection limit was reached",
                "reason",
                reason);
    }

    /** @param reason one of {@link #ACCEPT_ERROR_REASONS} */
    public void acceptError(String reason) {
        counter(acceptErrors, reason, this::acceptErrorCounter).increment();
    }

    private Counter acceptErrorCounter(String reason) {
        return labelledCounter(
                "clicktls.accept.errors",
                "Failed accepts on the https and http listeners, by reason",
                "reason",
                reason);
    }

    /** @param kind one of {@link #CLIENT_ERROR_KINDS} */
    public void clientError(String kind) {
        counter(clientErrors, kind, this::clientErrorCounter).increment();
    }

    private Counter clientErrorCounter(String kind) {
        return labelledCounter(
                "clicktls.client.errors",
                "Client connections or streams closed on an error the client caused, by kind",
                "kind",
                kind);
    }

    /** An error on a client connection that points at a bug of ours rather than at the client. */
    public void unexpectedError() {
        unexpectedErrors.increment();
    }

    /** Creates every series whose label values are known in advance, at 0, so that none appears only later. */
    private void registerKnownSeries() {
        HANDSHAKE_RESULTS.forEach(r -> counter(handshakes, r, this::handshakeCounter));
        ISSUANCE_RESULTS.forEach(r -> counter(issued, r, this::issuedCounter));
        UPGRADE_KINDS.forEach(k -> counter(upgraded, k, this::upgradedCounter));
        DENIAL_REASONS.forEach(r -> counter(denied, r, this::deniedCounter));
        RELOAD_RESULTS.forEach(r -> counter(reloads, r, this::reloadsCounter));
        PREFETCH_RESULTS.forEach(r -> counter(prefetched, r, this::prefetchedCounter));
        ADMIN_ACTIONS.forEach(a -> counter(adminActions, a, this::adminActionCounter));
        CLIENT_ERROR_KINDS.forEach(k -> counter(clientErrors, k, this::clientErrorCounter));
        REFUSAL_REASONS.forEach(r -> counter(refusedConnections, r, this::refusedCounter));
        ACCEPT_ERROR_REASONS.forEach(r -> counter(acceptErrors, r, this::acceptErrorCounter));
        LEASE_WAIT_OUTCOMES.forEach(o -> counter(leaseWaits, o, this::leaseWaitCounter));
        LISTENERS.forEach(this::connectionsOn);
    }

    /** Registers (or finds, when registered before) the counter {@code name} with one label set to {@code value}. */
    private Counter labelledCounter(String name, String description, String label, String value) {
        return Counter.builder(name).description(description).tag(label, value).register(registry);
    }

    private static Counter counter(ConcurrentMap<String, Counter> cache, String key, Function<String, Counter> create) {
        Counter counter = cache.get(key);
        return counter != null ? counter : cache.computeIfAbsent(key, create);
    }
}
