package io.clicktls.certificates;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.clicktls.config.Certificates;
import io.clicktls.config.ConfigSnapshot;
import io.clicktls.config.Endpoint;
import io.clicktls.config.HostNames;
import io.clicktls.config.OnDemand;
import io.clicktls.metrics.Metrics;
import io.clicktls.storage.Storage;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decides whether a host name may have a certificate. One path, in this order, each step able to refuse with a reason
 * ({@link Refusal}):
 * <ol>
 *   <li>syntax: a DNS host name a public CA issues for (length limits, letters, digits and inner hyphens, valid
 *       punycode, not an IP literal, not a public suffix such as {@code co.uk});</li>
 *   <li>{@code domains}: a matching entry allows the name without asking anyone;</li>
 *   <li>{@code on_demand.ask}, when configured, for the other names (answers cached: {@link AskClient}), which also
 *       need {@code on_demand.platform} to go anywhere;</li>
 *   <li>DNS, when {@code on_demand.expect_dns} lists something: the name must lead to this proxy ({@link DnsCheck}),
 *       and CAA must not forbid the CA when the CA is known by name (Let's Encrypt);</li>
 *   <li>issuance rate limits ({@link IssuanceLimits}); an allowed decision hands back an {@link Order}, counted
 *       against the limits until the caller closes it (issued, failed or cancelled).</li>
 * </ol>
 * {@link #decide} runs the steps that need no I/O (syntax, {@code domains}, cached refusals): it says whether a name
 * may be served at all and costs no allocation for a configured name. {@link #decideOrder} runs them all. Refusals
 * by syntax, by a cached answer or by the negative cache of refused names complete at once, without I/O.
 *
 * <p>The policy never counts its refusals in metrics: callers do, as only they know whether a refusal reached a client.
 *
 * <p>Thread-safe. Nothing blocks: {@link #decide} answers on the calling thread (event loops included), and the
 * futures of {@link #decideOrder} complete on the ask client's or the DNS check's threads; continuations must be
 * short or hop to an executor.
 */
public final class IssuancePolicy implements AutoCloseable {

    /** How long a refusal by DNS is remembered: long enough to absorb a scanner's burst, short enough for a fix. */
    static final Duration REFUSED_TTL = Duration.ofMinutes(1);

    static final int REFUSED_SIZE = 100_000;

    private static final Logger log = LoggerFactory.getLogger(IssuancePolicy.class);

    /**
     * The outcome for one name.
     *
     * @param reason {@code null} when allowed, else why not
     * @param detail what was found, for a person (e.g. where the name's DNS points instead), or {@code null}
     */
    public record Decision(boolean allowed, Refusal reason, String detail) {

        private static final Decision ALLOW = new Decision(true, null);

        public Decision(boolean allowed, Refusal reason) {
            this(allowed, reason, null);
        }

        public static Decision allow() {
            return ALLOW;
        }

        public static Decision refuse(Refusal reason) {
            return new Decision(false, reason);
        }

        static Decision refuse(Refusal reason, String detail) {
            return new Decision(false, reason, detail);
        }

        /** Whether a refusal says something lasting about the name (not a timeout or a busy endpoint). */
        public boolean definitive() {
            return !allowed && reason.isFinal();
        }
    }

    private final Supplier<ConfigSnapshot> config;
    private final AskClient ask;
    private final IssuanceLimits limits;
    private final PublicSuffixList suffixes;
    private final Function<Endpoint, DnsCheck> dnsChecks;
    private final Cache<String, Refusal> refused;
    private final AtomicLong lastHoldLog = new AtomicLong();
    /**
     * Where an order is admitted against the limits, which reads and writes the stored order window: the blocking
     * executor in a running node, the calling thread in tests.
     */
    private volatile Executor admissions = Runnable::run;

    private volatile Supplier<Optional<String>> storageOutage = Optional::empty;
    private DnsCheck dns;
    private Endpoint dnsServer;
    private boolean dnsOpened;

    /**
     * Syntax and {@code domains} only: no {@code ask}, DNS check or rate limits. For tests and tools that only need
     * to know whether a name is configured.
     */
    public IssuancePolicy() {
        this(null, null, null, PublicSuffixList.bundled(), null);
    }

    /**
     * @param config the live config, for {@link #hold}
     * @param ask asks {@code on_demand.ask}; {@code null} refuses every name outside {@code domains}
     * @param limits the rate limits, or {@code null} for none
     * @param dnsChecks makes the DNS check for a server ({@code null}: the system's resolvers); {@code null} turns
     *     the DNS check off whatever the config says
     */
    IssuancePolicy(
            Supplier<ConfigSnapshot> config,
            AskClient ask,
            IssuanceLimits limits,
            PublicSuffixList suffixes,
            Function<Endpoint, DnsCheck> dnsChecks) {
        this.config = config;
        this.ask = ask;
        this.limits = limits;
        this.suffixes = suffixes;
        this.dnsChecks = dnsChecks;
        this.refused = Caffeine.newBuilder()
                .maximumSize(REFUSED_SIZE)
                .expireAfterWrite(REFUSED_TTL)
                .executor(Runnable::run)
                .build();
    }

    /**
     * The full policy of a running node: {@code ask} client, DNS check and rate limits, whose counters are read from
     * {@code storage} now (blocking: call while starting, off the event loops).
     *
     * @param blocking writes the rate-limit counters; never an event loop
     */
    public static IssuancePolicy create(
            Supplier<ConfigSnapshot> config, Storage storage, Executor blocking, Clock clock) throws IOException {
        PublicSuffixList suffixes = PublicSuffixList.bundled();
        IssuanceLimits limits = new IssuanceLimits(storage, blocking, suffixes, clock);
        limits.load();
        IssuancePolicy policy = new IssuancePolicy(
                config,
                new AskClient(),
                limits,
                suffixes,
                server -> DnsCheck.create(server == null ? null : server.toSocketAddress()));
        policy.admissions = blocking;
        return policy;
    }

    /**
     * Follows a change of a rate-limit window made by another node sharing the storage ({@code limits/} keys; others
     * are ignored). Blocking: call from the blocking executor.
     */
    public void limitsChanged(String key) {
        if (limits != null) {
            limits.reload(key);
        }
    }

    /**
     * Whether {@code name} may be served or looked up at all, from what is known without I/O: syntax, {@code domains},
     * and for other names the cached refusals (an {@code ask} deny, a DNS refusal). A name that passes may still be
     * refused by {@link #decideOrder}. Any thread; allocation-free for a configured name.
     *
     * @param name a lower-case host name without a trailing dot, as the resolver passes it
     */
    public Decision decide(String name, ConfigSnapshot snapshot) {
        if (!HostNames.isValid(name)) {
            return Decision.refuse(Refusal.INVALID_NAME);
        }
        if (snapshot.domains().configured(name)) {
            return Decision.allow(); // the operator's own choice: the public-suffix rule is for strangers' names
        }
        if (suffixes.isPublicSuffix(name)) {
            return Decision.refuse(Refusal.INVALID_NAME);
        }
        OnDemand onDemand = snapshot.config().certificates().onDemand();
        if (onDemand.ask() == null || ask == null) {
            return Decision.refuse(Refusal.NOT_CONFIGURED);
        }
        if (onDemand.platform() == null) {
            return Decision.refuse(Refusal.NO_PLATFORM);
        }
        Refusal reason = refused.getIfPresent(name);
        if (reason != null) {
            return Decision.refuse(reason);
        }
        if (ask.cached(name) == AskClient.Known.DENIED) {
            return Decision.refuse(Refusal.ASK_DENIED);
        }
        return Decision.allow();
    }

    /**
     * The result of asking for an order: the order, counted against the rate limits until closed, or why not.
     *
     * @param order the order when allowed, else {@code null}
     * @param refusal why not, else {@code null}
     * @param detail what the refusing step found, for a person, or {@code null}
     */
    public record OrderDecision(Order order, Refusal refusal, String detail) {

        public OrderDecision(Order order, Refusal refusal) {
            this(order, refusal, null);
        }

        public boolean allowed() {
            return order != null;
        }
    }

    /**
     * Whether a certificate may be ordered for {@code name} now, on behalf of {@code requester}: every step, then the
     * rate limits, whose budgets the order spends (a client's share of the registered domain for a new name; none
     * for a renewal). A name listed as an exact {@code domains} entry is the operator's: no client's share is spent
     * on it. When allowed, the decision holds the {@link Order}, which the caller closes exactly once.
     */
    public CompletableFuture<OrderDecision> decideOrder(
            String name, ConfigSnapshot snapshot, IssuanceLimits.Requester requester) {
        return eligibility(name, snapshot)
                .thenApplyAsync(
                        decision -> {
                            if (!decision.allowed()) {
                                return new OrderDecision(null, decision.reason(), decision.detail());
                            }
                            Optional<String> outage = storageOutage.get();
                            if (outage.isPresent()) {
                                return new OrderDecision(null, Refusal.STORAGE_UNAVAILABLE, outage.get());
                            }
                            return startOrder(name, snapshot, budgetedTo(name, snapshot, requester));
                        },
                        admissions);
    }

    /**
     * Refuses new orders ({@link Refusal#STORAGE_UNAVAILABLE}, after {@code ask} and DNS, before the rate limits)
     * while {@code outage} gives a reason: the storage the nodes share cannot be reached, so an order could be neither
     * coordinated with them nor kept. Read once per decision; must be cheap (memory only).
     */
    public void holdOrdersWhile(Supplier<Optional<String>> outage) {
        this.storageOutage = Objects.requireNonNull(outage, "outage");
    }

    /**
     * An order nobody may refuse (a renewal the scheduler asked for, an operator's "issue now"): no limit is checked,
     * but it counts against them once closed, since the CA counts it.
     */
    public Order unplannedOrder(String name) {
        return new Order(name, limits, IssuanceLimits.Requester.RENEWAL, false);
    }

    /**
     * Who an order for {@code name} asked by {@code requester} is budgeted to: the operator for a name listed exactly
     * in {@code domains} (no stranger can make those up), else the requester.
     */
    private static IssuanceLimits.Requester budgetedTo(
            String name, ConfigSnapshot snapshot, IssuanceLimits.Requester requester) {
        if (requester.client() == null || requester.renewal()) {
            return requester;
        }
        boolean listed = snapshot.domains()
                .find(name)
                .map(route -> !route.domain().wildcard() && snapshot.domains().configured(name))
                .orElse(false);
        return listed ? IssuanceLimits.Requester.OPERATOR : requester;
    }

    /**
     * Whether {@code name} is still one this node should hold a certificate for: every step but the rate limits. For
     * the cleanup of certificates no longer wanted; {@link Decision#definitive()} tells a "no" from a "cannot tell".
     */
    public CompletableFuture<Decision> stillAllowed(String name, ConfigSnapshot snapshot) {
        return eligibility(name, snapshot);
    }

    /** Exposes the cache of {@code ask} answers as {@code cache_*{cache="ask_decisions"}}. */
    public void monitor(Metrics metrics) {
        if (ask != null) {
            ask.monitor(metrics);
        }
    }

    /** Why a rate limit holds {@code name} back, and until when; empty when none does. Cheap; any thread. */
    public Optional<IssuanceLimits.Hold> hold(String name) {
        if (limits == null || config == null) {
            return Optional.empty();
        }
        return limits.hold(name, config.get().config().certificates().limits());
    }

    /**
     * Why the rate limits, each narrowed by {@code narrow} (e.g. to keep part of every budget for handshakes), would
     * hold a new order of the operator's for {@code name} back now; empty when none would. Records nothing. Cheap; any
     * thread.
     */
    public Optional<IssuanceLimits.Hold> hold(String name, UnaryOperator<Certificates.Limits> narrow) {
        if (limits == null || config == null) {
            return Optional.empty();
        }
        return limits.hold(
                name, narrow.apply(config.get().config().certificates().limits()));
    }

    /**
     * Whether the {@code ask} endpoint's cached answer allows {@code name} (fresh or kept past its TTL). Memory only;
     * any thread. For routing requests of names outside {@code domains} to {@code on_demand.platform}.
     */
    public boolean allowedOnDemand(String name) {
        if (ask == null || name == null) {
            return false;
        }
        AskClient.Known known = ask.cached(name);
        return known == AskClient.Known.ALLOWED || known == AskClient.Known.STALE_ALLOWED;
    }

    private CompletableFuture<Decision> eligibility(String name, ConfigSnapshot snapshot) {
        Decision known = decide(name, snapshot);
        if (!known.allowed()) {
            return CompletableFuture.completedFuture(known);
        }
        OnDemand onDemand = snapshot.config().certificates().onDemand();
        CompletableFuture<Decision> asked = snapshot.domains().configured(name)
                ? CompletableFuture.completedFuture(Decision.allow())
                : ask.ask(name, onDemand.ask(), onDemand)
                        .thenApply(verdict -> verdict.allowed() ? Decision.allow() : Decision.refuse(verdict.reason()));
        return asked.thenCompose(
                decision -> decision.allowed() ? dnsStep(name, snapshot) : CompletableFuture.completedFuture(decision));
    }

    private CompletableFuture<Decision> dnsStep(String name, ConfigSnapshot snapshot) {
        OnDemand onDemand = snapshot.config().certificates().onDemand();
        DnsCheck check = onDemand.dnsCheck() ? dnsCheck(onDemand.dnsServer()) : null;
        if (check == null) {
            return CompletableFuture.completedFuture(Decision.allow());
        }
        String caIdentity = caaIdentity(snapshot.config().certificates());
        CompletableFuture<DnsCheck.CaaReport> caa =
                caIdentity == null ? CompletableFuture.completedFuture(null) : check.caa(name);
        return check.check(name, onDemand.expectDns()).thenCombine(caa, (report, caaReport) -> {
            Refusal reason =
                    switch (report.verdict()) {
                        case POINTS_HERE -> caaReport != null && !caaReport.permits(caIdentity)
                                ? Refusal.CAA_FORBIDS
                                : null;
                        case POINTS_ELSEWHERE -> Refusal.DNS_ELSEWHERE;
                        case NOT_FOUND -> Refusal.DNS_NOT_FOUND;
                        case UNAVAILABLE -> Refusal.DNS_UNAVAILABLE;
                    };
            if (reason == null) {
                return Decision.allow();
            }
            if (reason != Refusal.DNS_UNAVAILABLE) {
                refused.put(name, reason);
            }
            String why = reason == Refusal.CAA_FORBIDS
                    ? "CAA records at " + caaReport.foundAt() + " do not allow " + caIdentity
                    : report.explanation();
            if (snapshot.domains().configured(name)) {
                log.info("no certificate for configured name {} for now: {}", name, why);
            } else {
                log.debug("no certificate for {}: {}", name, why);
            }
            return Decision.refuse(reason, why);
        });
    }

    private OrderDecision startOrder(String name, ConfigSnapshot snapshot, IssuanceLimits.Requester requester) {
        Order order = new Order(name, limits, requester, true);
        if (limits == null) {
            return new OrderDecision(order, null);
        }
        Optional<IssuanceLimits.Hold> hold =
                limits.tryStartOrder(name, snapshot.config().certificates().limits(), requester);
        if (hold.isEmpty()) {
            return new OrderDecision(order, null);
        }
        if (hold.get().limit().equals(IssuanceLimits.NEW_NAMES_PER_CLIENT)) {
            // routine under a flood from one address, and the other clients are still served: no warning
            log.debug("issuance held back: {}", hold.get().explanation());
            return new OrderDecision(null, Refusal.CLIENT_BUDGET);
        }
        long now = System.nanoTime();
        long last = lastHoldLog.get();
        // at most one line every 10 s: a flood under a wildcard would otherwise write one per name
        if (now - last > Duration.ofSeconds(10).toNanos() && lastHoldLog.compareAndSet(last, now)) {
            log.warn("issuance held back by a rate limit: {}", hold.get().explanation());
        }
        return new OrderDecision(null, Refusal.RATE_LIMITED);
    }

    /** The DNS check for the configured server, made on first use and remade when the server changes. */
    private synchronized DnsCheck dnsCheck(Endpoint server) {
        if (dnsChecks == null) {
            return null;
        }
        if (!dnsOpened || !Objects.equals(server, dnsServer)) {
            if (dns != null) {
                dns.close();
            }
            dns = dnsChecks.apply(server);
            dnsServer = server;
            dnsOpened = true;
        }
        return dns;
    }

    /**
     * The CAA identifier of the configured CA when it is known by name ({@code letsencrypt.org} for Let's Encrypt's
     * directories), else {@code null}: then CAA is not checked before ordering (the CA checks it anyway).
     */
    static String caaIdentity(Certificates certificates) {
        if (certificates.issuer() != Certificates.IssuerKind.ACME || certificates.acme() == null) {
            return null;
        }
        String host = certificates.acme().directory().getHost();
        return host != null && (host.equals("letsencrypt.org") || host.endsWith(".letsencrypt.org"))
                ? "letsencrypt.org"
                : null;
    }

    @Override
    public synchronized void close() {
        if (ask != null) {
            ask.close();
        }
        if (dns != null) {
            dns.close();
            dns = null;
        }
    }
}
