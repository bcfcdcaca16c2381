package io.clicktls.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * The metrics every part records, with the names of DESIGN.md's contract. Meters are created once per tag value
 * and cached, so recording on a hot path costs a map lookup and an atomic add. No per-domain tags: a node may
 * serve 100,000 domains. Thread-safe.
 */
public final class Metrics {

    private static final int STATUS_CODES = 500;

    private final PrometheusMeterRegistry registry;
    private final ConcurrentMap<String, Counter> handshakes = new ConcurrentHashMap<>();
    private final ConcurrentMap<String, Counter> issued = new ConcurrentHashMap<>();
    /** Per platform, the counters by status code (index {@code code - 100}): a lookup without building a key. */
    private final ConcurrentMap<String, AtomicReferenceArray<Counter>> requests = new ConcurrentHashMap<>();
    private final ConcurrentMap<String, Counter> upgraded = new ConcurrentHashMap<>();
    private final ConcurrentMap<String, Counter> denied = new ConcurrentHashMap<>();
    private final ConcurrentMap<String, Counter> reloads = new ConcurrentHashMap<>();
    private final Timer issuance;
    private final Timer upstream;

    public Metrics() {
        this(new PrometheusMeterRegistry(PrometheusConfig.DEFAULT));
    }

    public Metrics(PrometheusMeterRegistry registry) {
        this.registry = registry;
        this.issuance = Timer.builder("clicktls.certificate.issuance")
                .description("Time to obtain a new certificate, from decision to stored chain")
                .serviceLevelObjectives(
                        Duration.ofMillis(100), Duration.ofMillis(250), Duration.ofMillis(500), Duration.ofSeconds(1),
                        Duration.ofSeconds(2), Duration.ofSeconds(5), Duration.ofSeconds(10), Duration.ofSeconds(30),
                        Duration.ofSeconds(60))
                .register(registry);
        this.upstream = Timer.builder("clicktls.upstream")
                .description("Time from sending a request upstream to the upstream's response headers")
                .serviceLevelObjectives(
                        Duration.ofMillis(5), Duration.ofMillis(10), Duration.ofMillis(25), Duration.ofMillis(50),
                        Duration.ofMillis(100), Duration.ofMillis(250), Duration.ofMillis(500), Duration.ofSeconds(1),
                        Duration.ofMillis(2500), Duration.ofSeconds(5), Duration.ofSeconds(10))
                .register(registry);
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
        counter(handshakes, result, r -> Counter.builder("clicktls.tls.handshakes")
                .description("TLS handshakes by outcome")
                .tag("result", r)
                .register(registry)).increment();
    }

    /** @param result {@code ok} or {@code failed} */
    public void certificateIssued(String result, long nanos) {
        counter(issued, result, r -> Counter.builder("clicktls.certificates.issued")
                .description("Certificates issued or renewed, by outcome")
                .tag("result", r)
                .register(registry)).increment();
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
        counter(upgraded, kind, k -> Counter.builder("clicktls.links.upgraded")
                .description("Tracked links upgraded from http to https")
                .tag("kind", k)
                .register(registry)).increment(count);
    }

    /** @param reason e.g. {@code not_configured}, {@code invalid_name}, {@code ask_denied}, {@code rate_limited} */
    public void onDemandDenied(String reason) {
        counter(denied, reason, r -> Counter.builder("clicktls.on.demand.denied")
                .description("On-demand certificate requests refused, by reason")
                .tag("reason", r)
                .register(registry)).increment();
    }

    /** @param result {@code ok} or {@code rejected} */
    public void configReload(String result) {
        counter(reloads, result, r -> Counter.builder("clicktls.config.reloads")
                .description("Config file reloads, by outcome")
                .tag("result", r)
                .register(registry)).increment();
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

    /** For sizes such as rewritten body bytes; created on first use. */
    public DistributionSummary summary(String name, String description) {
        return DistributionSummary.builder(name).description(description).register(registry);
    }

    private static Counter counter(
            ConcurrentMap<String, Counter> cache, String key, Function<String, Counter> create) {
        Counter counter = cache.get(key);
        return counter != null ? counter : cache.computeIfAbsent(key, create);
    }
}
