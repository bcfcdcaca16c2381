package io.clicktls.certificates;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.clicktls.config.ConfigSnapshot;
import io.clicktls.config.HostNames;
import io.clicktls.config.StorageSettings;
import io.clicktls.metrics.Metrics;
import io.clicktls.pki.CertifiedKey;
import io.clicktls.storage.CertificateStore;
import io.clicktls.storage.LeaseLostException;
import io.clicktls.storage.StoredCertificate;
import java.io.IOException;
import java.math.BigInteger;
import java.net.InetAddress;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListSet;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The certificate for a host name, found or made on demand, in the lookup order written down in
 * {@code package-info.java} of this package (memory, policy, backoff, storage, policy and rate limits, issuer, memory).
 * Concurrent requests for one name share one future (single flight) from a map of lookups in flight; only
 * certificates enter the cache, so a failure is forgotten at once and the next handshake tries again. (Caffeine's
 * {@code AsyncCache} would do the single flight too, but it logs a WARNING with a stack trace for every failed load:
 * every refused random SNI from a scanner.) A certificate counts as absent only once expired: one inside its
 * renewal window is still served, and renewing it is {@link #renew}'s job, called by whoever schedules renewals.
 *
 * <p>Threading: {@link #certificate}, {@link #cached}, {@link #configured}, {@link #renew} and {@link #inMemory} never
 * block and may run on event loops; {@link #forget} and {@link #lastFailure} do storage I/O and run on the blocking
 * executor. Thread-safe.
 */
public final class CertificateResolver implements CertificateSource {

    /** How long a renewal waits for another node renewing the same name before it gives up (and backs off). */
    static final Duration RENEWAL_WAIT = Duration.ofMinutes(5);

    /** Default bound on certificates in memory. */
    public static final int DEFAULT_MAXIMUM_SIZE = 50_000;

    private static final Logger log = LoggerFactory.getLogger(CertificateResolver.class);

    private final Supplier<ConfigSnapshot> config;
    private final CertificateStore store;
    private final CertificateIssuer issuer;
    private final IssuancePolicy policy;
    private final IssuanceFailures failures;
    private final Executor blocking;
    private final Executor loads;
    private final Executor leaseWork;
    private final Metrics metrics;
    private final Clock clock;
    private final CertificateEvents events;
    private final OrderLeases leases;
    private final Cache<String, Held> memory;
    private final Map<String, CompletableFuture<CertifiedKey>> lookups = new ConcurrentHashMap<>();
    private final Map<String, CompletableFuture<CertifiedKey>> renewals = new ConcurrentHashMap<>();
    private final List<Consumer<CertifiedKey>> issuedListeners = new CopyOnWriteArrayList<>();
    private final ConcurrentSkipListSet<Expiry> expiries = new ConcurrentSkipListSet<>();

    /**
     * A certificate in memory and the last config snapshot in which its name was found served. A hit under that same
     * snapshot needs no second policy check: one reference comparison, no allocation. Any snapshot written here
     * served the name, so races between readers of different snapshots only cost an extra check. The validity is
     * kept as numbers because the certificate's own getters allocate a {@code Date} per call.
     */
    private static final class Held {
        final CertifiedKey certified;
        final long notBeforeMillis;
        final long notAfterMillis;
        volatile ConfigSnapshot servedIn;

        Held(CertifiedKey certified) {
            this.certified = certified;
            this.notBeforeMillis = certified.notBefore().toEpochMilli();
            this.notAfterMillis = certified.notAfter().toEpochMilli();
        }
    }

    /** A certificate in memory, ordered by expiry, for the earliest-expiry gauge. */
    private record Expiry(Instant notAfter, String name, BigInteger serial) implements Comparable<Expiry> {
        private static final Comparator<Expiry> ORDER = Comparator.comparing(Expiry::notAfter)
                .thenComparing(Expiry::name)
                .thenComparing(Expiry::serial);

        static Expiry of(CertifiedKey certified) {
            return new Expiry(
                    certified.notAfter(), certified.name(), certified.leaf().getSerialNumber());
        }

        @Override
        public int compareTo(Expiry other) {
            return ORDER.compare(this, other);
        }
    }

    private CertificateResolver(Builder b) {
        Supplier<ConfigSnapshot> config = Objects.requireNonNull(b.config, "config");
        CertificateStore store = Objects.requireNonNull(b.store, "store");
        Executor blocking = Objects.requireNonNull(b.blocking, "blocking");
        Metrics metrics = Objects.requireNonNull(b.metrics, "metrics");
        Clock clock = b.clock;
        CertificateIssuer issuer = Objects.requireNonNull(b.issuer, "issuer");
        IssuancePolicy policy = Objects.requireNonNull(b.policy, "policy");
        IssuanceFailures failures = b.failures != null ? b.failures : new IssuanceFailures(store.storage(), clock);
        Executor loads = b.loads != null ? b.loads : blocking;
        CertificateEvents events = b.events;
        int maximumSize = b.maximumSize;
        this.config = config;
        this.store = store;
        this.issuer = issuer;
        this.policy = policy;
        this.failures = failures;
        this.blocking = blocking;
        this.loads = loads;
        this.metrics = metrics;
        this.clock = clock;
        this.events = events;
        this.leaseWork = b.leaseWork != null ? b.leaseWork : blocking;
        this.leases = new OrderLeases(
                store.storage(),
                b.leaseDuration,
                b.timers != null ? b.timers : SharedTimer.INSTANCE,
                loads,
                leaseWork,
                metrics);
        this.memory = Caffeine.newBuilder()
                .maximumSize(maximumSize)
                .recordStats()
                .executor(Runnable::run) // the removal listener only drops cache entries: cheap
                .<String, Held>removalListener(
                        (name, held, cause) -> forgetContext(held == null ? null : held.certified))
                .build();
        metrics.certificateGauges(memory::estimatedSize, this::secondsUntilEarliestExpiry);
        metrics.cache("certificates", memory);
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * What a resolver needs. Required: {@link #config}, {@link #store}, {@link #issuer}, {@link #policy},
     * {@link #blocking} and {@link #metrics}.
     */
    public static final class Builder {
        private Supplier<ConfigSnapshot> config;
        private CertificateStore store;
        private CertificateIssuer issuer;
        private IssuancePolicy policy;
        private IssuanceFailures failures;
        private Executor blocking;
        private Executor loads;
        private Metrics metrics;
        private Clock clock = Clock.systemUTC();
        private CertificateEvents events = CertificateEvents.NONE;
        private int maximumSize = DEFAULT_MAXIMUM_SIZE;
        private Duration leaseDuration = StorageSettings.DEFAULT_LEASE;
        private ScheduledExecutorService timers;
        private Executor leaseWork;

        private Builder() {}

        /**
         * How long a name's order lease lasts unless renewed ({@code storage.lease}), and the timer that renews it
         * and paces the polls of nodes waiting for another's order (it only hands work to the blocking executor).
         * Default: {@link StorageSettings#DEFAULT_LEASE} and a timer thread shared by the resolvers of this JVM.
         */
        public Builder leases(Duration leaseDuration, ScheduledExecutorService timers) {
            return leases(leaseDuration, timers, null);
        }

        /**
         * As {@link #leases(Duration, ScheduledExecutorService)}, with the executor that renews and gives back the
         * leases this node holds ({@code null}: the blocking executor). Best one of their own: a renewal that
         * queues behind orders past the lease's expiry lets another node order the same name.
         */
        public Builder leases(Duration leaseDuration, ScheduledExecutorService timers, Executor leaseWork) {
            this.leaseDuration = Objects.requireNonNull(leaseDuration, "leaseDuration");
            this.timers = timers;
            this.leaseWork = leaseWork;
            return this;
        }

        /** The live config, read on every lookup. */
        public Builder config(Supplier<ConfigSnapshot> config) {
            this.config = config;
            return this;
        }

        public Builder store(CertificateStore store) {
            this.store = store;
            return this;
        }

        public Builder issuer(CertificateIssuer issuer) {
            this.issuer = issuer;
            return this;
        }

        public Builder policy(IssuancePolicy policy) {
            this.policy = policy;
            return this;
        }

        /** The per-name failure state and backoff, shared with the renewal scheduler; default: in the store's storage. */
        public Builder failures(IssuanceFailures failures) {
            this.failures = failures;
            return this;
        }

        /** Runs storage I/O and issuance; bounded; never an event loop. */
        public Builder blocking(Executor blocking) {
            this.blocking = blocking;
            return this;
        }

        /**
         * Reads a stored certificate while a handshake waits (e.g. a {@code tls.CertificateLoadExecutor}, so that such
         * reads never queue behind issuance); bounded, failing fast when full; never an event loop. Default: the
         * blocking executor.
         */
        public Builder loads(Executor loads) {
            this.loads = loads;
            return this;
        }

        public Builder metrics(Metrics metrics) {
            this.metrics = metrics;
            return this;
        }

        public Builder clock(Clock clock) {
            this.clock = clock;
            return this;
        }

        /** Told of each certificate about to be served and of each that left memory; default: nobody. */
        public Builder events(CertificateEvents events) {
            this.events = events;
            return this;
        }

        /** How many certificates stay in memory; default {@link #DEFAULT_MAXIMUM_SIZE}. */
        public Builder maximumSize(int maximumSize) {
            this.maximumSize = maximumSize;
            return this;
        }

        public CertificateResolver build() {
            return new CertificateResolver(this);
        }
    }

    @Override
    public Optional<CertifiedKey> cached(String name) {
        if (name == null) {
            return Optional.empty();
        }
        String normalized = HostNames.normalize(name);
        Held held = memory.getIfPresent(normalized);
        long now = clock.millis();
        if (held == null
                || now < held.notBeforeMillis
                || now >= held.notAfterMillis
                || !served(normalized, held, config.get())) {
            return Optional.empty();
        }
        return Optional.of(held.certified);
    }

    /**
     * {@inheritDoc} Each call returns its own future, so a caller's timeout or cancellation never reaches the shared
     * one; a memory hit returns a future that is already complete.
     */
    @Override
    public CompletableFuture<CertifiedKey> certificate(String rawName) {
        return certificate(rawName, null);
    }

    /**
     * {@inheritDoc} A new name's order is budgeted to the client that started the lookup (a caller joining a lookup
     * under way spends nothing); a name whose stored certificate expired is re-issued as a renewal, which no new-name
     * budget holds back.
     */
    @Override
    public CompletableFuture<CertifiedKey> certificate(String rawName, InetAddress client) {
        return lookup(rawName, IssuanceLimits.Requester.client(client), loads);
    }

    /**
     * A lookup nobody waits for, to have the certificate of a listed name before its first handshake
     * ({@link CertificatePrefetch}): the same lookup order, policy and single flight as {@link #certificate}, budgeted
     * to the operator, but its storage read runs on the blocking executor, so that it never takes a thread or a queue
     * slot of the reads handshakes wait for.
     */
    public CompletableFuture<CertifiedKey> prefetch(String rawName) {
        return lookup(rawName, IssuanceLimits.Requester.OPERATOR, blocking);
    }

    private CompletableFuture<CertifiedKey> lookup(String rawName, IssuanceLimits.Requester requester, Executor reads) {
        if (rawName == null) {
            return CompletableFuture.failedFuture(new NameRefusedException("(none)", Refusal.INVALID_NAME));
        }
        String name = HostNames.normalize(rawName);
        ConfigSnapshot snapshot = config.get();
        Held held = servable(name);
        if (held != null) {
            return served(name, held, snapshot)
                    ? CompletableFuture.completedFuture(held.certified)
                    : refused(name, snapshot);
        }
        // Checked before storage as well: a stored certificate of a removed name is not served either, and a
        // scanner's random names cost no I/O.
        if (!policy.decide(name, snapshot).allowed()) {
            return refused(name, snapshot);
        }
        // The backoff as memory knows it, so a name backing off costs no storage read; loadOrNull asks again.
        IssuanceFailure hold = failures.heldBack(name, clock.instant());
        if (hold != null && store.indexReady() && !storedValid(name)) {
            return CompletableFuture.failedFuture(heldBack(name, hold));
        }
        CompletableFuture<CertifiedKey> mine = new CompletableFuture<>();
        CompletableFuture<CertifiedKey> running = lookups.putIfAbsent(name, mine);
        if (running != null) {
            return running.copy();
        }
        // A lookup may have finished between the memory check and taking the slot.
        held = servable(name);
        if (held != null) {
            lookups.remove(name, mine);
            mine.complete(held.certified);
            return mine.copy();
        }
        loadOrIssue(name, requester, reads).whenComplete((result, failure) -> {
            if (failure == null) {
                // In memory before the slot is freed, so there is no moment with neither; a renewal that
                // finished meanwhile wins.
                Held kept = memory.asMap().putIfAbsent(name, new Held(result));
                expiries.add(Expiry.of(kept == null ? result : kept.certified));
            }
            lookups.remove(name, mine);
            complete(mine, result, failure);
        });
        return mine.copy();
    }

    /**
     * Whether the live config serves {@code name}: the policy's answer, remembered on the entry per snapshot so that
     * the usual hit costs a reference comparison.
     */
    private boolean served(String name, Held held, ConfigSnapshot snapshot) {
        if (held.servedIn == snapshot) {
            return true;
        }
        if (!policy.decide(name, snapshot).allowed()) {
            return false;
        }
        held.servedIn = snapshot;
        return true;
    }

    private CompletableFuture<CertifiedKey> refused(String name, ConfigSnapshot snapshot) {
        Refusal reason = policy.decide(name, snapshot).reason();
        metrics.onDemandDenied(reason.label());
        return CompletableFuture.failedFuture(new NameRefusedException(name, reason));
    }

    /**
     * Whether a lookup of {@code name} (storage, policy, issuance) is under way, which another caller would join
     * rather than start. Memory only; any thread.
     */
    @Override
    public boolean lookingUp(String name) {
        return name != null && lookups.containsKey(HostNames.normalize(name));
    }

    /** Whether the live config serves {@code name} now, e.g. before renewing it. Cheap; any thread. */
    public boolean configured(String rawName) {
        return rawName != null
                && policy.decide(HostNames.normalize(rawName), config.get()).allowed();
    }

    /** Whether the store's index has a certificate for {@code name} valid now. Memory only. */
    private boolean storedValid(String name) {
        Optional<StoredCertificate> stored = store.indexed(name);
        return stored.isPresent() && stored.get().validAt(clock.instant());
    }

    /**
     * The last issuance failure for {@code name} since its last success, for the status page. Blocking on a memory
     * miss (one storage read): call from the blocking executor.
     */
    public Optional<IssuanceFailure> lastFailure(String rawName) {
        return rawName == null ? Optional.empty() : failures.lastFailure(HostNames.normalize(rawName));
    }

    /** The certificate in memory unless it has expired (which also drops it). */
    private Held servable(String name) {
        Held held = memory.getIfPresent(name);
        if (held != null && clock.millis() >= held.notAfterMillis) {
            memory.asMap().remove(name, held); // storage may hold a renewed one
            return null;
        }
        return held;
    }

    /**
     * Issues a new certificate for {@code name} now, stores it, and swaps it in: new handshakes get the new
     * certificate and its context, open connections keep theirs. Single flight per name; waits for a first issuance
     * already under way rather than running beside it. Consults neither the policy nor the backoff: the caller asked
     * explicitly (the renewal scheduler honours the backoff itself). A failure is recorded like any other.
     */
    public CompletableFuture<CertifiedKey> renew(String rawName) {
        String name = HostNames.normalize(rawName);
        if (!HostNames.isValid(name)) {
            return CompletableFuture.failedFuture(new NameRefusedException(name, Refusal.INVALID_NAME));
        }
        CompletableFuture<CertifiedKey> mine = new CompletableFuture<>();
        CompletableFuture<CertifiedKey> running = renewals.putIfAbsent(name, mine);
        if (running != null) {
            return running.copy();
        }
        CompletableFuture<CertifiedKey> inFlight = lookups.get(name);
        CompletableFuture<?> after =
                inFlight == null ? CompletableFuture.completedFuture(null) : inFlight.handle((c, e) -> c);
        // Every node's scheduler may try; the lease holder orders, and a node that gets the lease after another
        // renewed finds the newer certificate in storage and takes it instead.
        Served before = servedNow(name);
        after.thenCompose(ignored -> leases.claim(name, RENEWAL_WAIT, () -> storedNewer(name, before)))
                .thenCompose(claim -> claim.found() != null
                        ? CompletableFuture.completedFuture(claim.found())
                        : releasing(
                                claim.hold(),
                                submit(() -> issueAndStore(policy.unplannedOrder(name), claim.hold()), blocking)))
                .whenComplete((certified, failure) -> {
                    if (failure == null) {
                        swapIn(name, certified);
                    }
                    // Out of the map before completing, so a caller woken by it can start the next renewal.
                    renewals.remove(name, mine);
                    complete(mine, certified, failure);
                });
        return mine.copy();
    }

    /** Drops the certificate from memory and storage. Blocking: call from the blocking executor. */
    public void forget(String rawName) throws IOException {
        String name = HostNames.normalize(rawName);
        memory.invalidate(name);
        store.delete(name);
    }

    /**
     * Follows a change to {@code name}'s stored certificate made elsewhere (another node issued, renewed or forgot
     * it): a name in memory is read from storage again and the stored certificate swapped in with its context (open
     * connections keep theirs), or dropped with its context when storage no longer holds a valid one. A name not in
     * memory is left alone: its next handshake reads storage anyway. Blocking (storage I/O): call from the blocking
     * executor.
     *
     * @return whether memory changed
     */
    public boolean refresh(String rawName) {
        String name = HostNames.normalize(rawName);
        Held held = memory.getIfPresent(name);
        if (held == null) {
            return false;
        }
        Optional<CertifiedKey> stored = store.load(name);
        if (stored.isEmpty() || expired(stored.get())) {
            memory.asMap().remove(name, held);
            log.info("certificate for {} dropped from memory: no longer in storage", name);
            return true;
        }
        CertifiedKey fresh = stored.get();
        if (fresh.leaf().getSerialNumber().equals(held.certified.leaf().getSerialNumber())) {
            return false; // this node's own write, or one already seen
        }
        remember(fresh);
        swapIn(name, fresh);
        log.info(
                "certificate for {} reloaded from storage (serial {})",
                name,
                fresh.leaf().getSerialNumber().toString(16));
        return true;
    }

    /** The certificates in memory now (not those being looked up or issued). Copies; costs a pass over memory. */
    public List<CertifiedKey> inMemory() {
        List<CertifiedKey> all = new ArrayList<>((int) Math.min(Integer.MAX_VALUE, memory.estimatedSize()));
        memory.asMap().values().forEach(held -> all.add(held.certified));
        return all;
    }

    /** Called with every certificate issued (first or renewed), on the blocking executor; must not block long. */
    public void onIssued(Consumer<CertifiedKey> listener) {
        issuedListeners.add(listener);
    }

    /**
     * Storage, then, for a name without a valid stored certificate, the policy's full decision ({@code ask}, DNS,
     * rate limits: it completes on the policy's threads), then issuance on the blocking executor.
     */
    private CompletableFuture<CertifiedKey> loadOrIssue(String name, IssuanceLimits.Requester client, Executor reads) {
        return submit(() -> loadOrNull(name), reads).thenCompose(stored -> {
            if (stored.valid() != null) {
                return CompletableFuture.completedFuture(stored.valid());
            }
            Duration wait = config.get().config().certificates().onDemand().handshakeWait();
            return leases.claim(name, wait, () -> storedValidNow(name)).thenCompose(claim -> {
                if (claim.found() != null) {
                    return CompletableFuture.completedFuture(claim.found());
                }
                if (claim.waited()) {
                    // The node that held the lease gave it back without a certificate: its order failed, and the
                    // backoff it recorded holds here too (not in this node's memory yet: read again). Ordering at
                    // once would be a second order for the name (and a second failed validation at the CA).
                    IssuanceFailure failure = failures.reread(name).orElse(null);
                    if (failure != null && failure.holdsBackAt(clock.instant())) {
                        claim.hold().close();
                        return CompletableFuture.failedFuture(heldBack(name, failure));
                    }
                }
                ConfigSnapshot snapshot = config.get();
                IssuanceLimits.Requester requester = stored.heldBefore() ? IssuanceLimits.Requester.RENEWAL : client;
                return releasing(
                        claim.hold(),
                        policy.decideOrder(name, snapshot, requester)
                                .thenCompose(decision -> issueIfAllowed(name, decision, claim.hold())));
            });
        });
    }

    /** {@code work}, completed once the lease it ran under (if any) is given back, on the lease executor. */
    private CompletableFuture<CertifiedKey> releasing(OrderLeases.Hold hold, CompletableFuture<CertifiedKey> work) {
        if (hold == null) {
            return work;
        }
        CompletableFuture<CertifiedKey> released = new CompletableFuture<>();
        work.whenComplete((result, failure) -> {
            Runnable release = () -> {
                hold.close();
                complete(released, result, failure);
            };
            try {
                leaseWork.execute(release);
            } catch (RejectedExecutionException e) {
                release.run();
            }
        });
        return released;
    }

    /** The stored certificate if it is valid now (another node may just have written it), indexed and announced. */
    private CertifiedKey storedValidNow(String name) {
        Optional<CertifiedKey> stored = store.load(name);
        if (stored.isEmpty() || expired(stored.get())) {
            return null;
        }
        store.indexLoaded(stored.get());
        remember(stored.get());
        return stored.get();
    }

    /** The certificate a node serves for a name: which one (serial) and until when. */
    private record Served(BigInteger serial, Instant notAfter) {}

    /**
     * The stored certificate if it is valid and another than {@code before}, expiring no earlier (another node renewed
     * it: within one second, as the CA counts, two certificates expire at the same time), indexed and announced;
     * {@code before == null}: any valid one.
     */
    private CertifiedKey storedNewer(String name, Served before) {
        Optional<CertifiedKey> stored = store.load(name);
        if (stored.isEmpty() || expired(stored.get())) {
            return null;
        }
        CertifiedKey found = stored.get();
        if (before != null
                && (found.leaf().getSerialNumber().equals(before.serial())
                        || found.notAfter().isBefore(before.notAfter()))) {
            return null;
        }
        store.indexLoaded(found);
        remember(found);
        return found;
    }

    /** The certificate this node serves (or has indexed) for {@code name}, or {@code null}. */
    private Served servedNow(String name) {
        Held held = memory.getIfPresent(name);
        if (held != null) {
            return new Served(held.certified.leaf().getSerialNumber(), held.certified.notAfter());
        }
        return store.indexed(name)
                .map(indexed -> new Served(indexed.serial(), indexed.notAfter()))
                .orElse(null);
    }

    /**
     * What storage holds for a name.
     *
     * @param valid the certificate valid now, its context built, or {@code null}
     * @param heldBefore whether an expired certificate was stored: issuing again is a renewal
     */
    private record Stored(CertifiedKey valid, boolean heldBefore) {}

    /** The valid stored certificate, its context built; else none, unless the backoff holds the name. */
    private Stored loadOrNull(String name) {
        Optional<CertifiedKey> stored = store.load(name);
        if (stored.isPresent() && !expired(stored.get())) {
            remember(stored.get());
            return new Stored(stored.get(), true);
        }
        if (stored.isPresent()) {
            log.info(
                    "stored certificate for {} expired at {}; issuing a new one",
                    name,
                    stored.get().notAfter());
        }
        // Before the policy, whose allow records an order against the rate limits.
        Optional<IssuanceFailure> last = failures.lastFailure(name);
        if (last.isPresent() && last.get().holdsBackAt(clock.instant())) {
            throw new CompletionException(heldBack(name, last.get()));
        }
        return new Stored(null, stored.isPresent());
    }

    /**
     * A lookup refused because {@link IssuanceFailures} (which decides the backoff for first issuance and renewal
     * alike) holds the name back; counted.
     */
    private IssuanceHeldBackException heldBack(String name, IssuanceFailure failure) {
        metrics.onDemandDenied(Refusal.BACKOFF.label());
        return new IssuanceHeldBackException(name, failure);
    }

    private CompletableFuture<CertifiedKey> issueIfAllowed(
            String name, IssuancePolicy.OrderDecision decision, OrderLeases.Hold hold) {
        if (!decision.allowed()) {
            metrics.onDemandDenied(decision.refusal().label());
            return CompletableFuture.failedFuture(
                    new NameRefusedException(name, decision.refusal(), decision.detail()));
        }
        Order order = decision.order();
        try {
            return CompletableFuture.supplyAsync(() -> issueAndStore(order, hold), blocking);
        } catch (RejectedExecutionException e) {
            order.cancelled(); // never started: the blocking executor is full
            return CompletableFuture.failedFuture(e);
        }
    }

    /**
     * Runs {@code order} and closes it: issued (and stored) or failed. Under {@code hold} (may be {@code null}: no
     * lease could be taken) the certificate is stored fenced by the lease; when another node has taken the lease over
     * meanwhile, nothing is written and what storage holds is served instead. On the blocking executor.
     */
    private CertifiedKey issueAndStore(Order order, OrderLeases.Hold hold) {
        String name = order.name();
        long start = System.nanoTime();
        CertifiedKey certified;
        try {
            certified = issuer.issue(name);
        } catch (Exception e) {
            order.failed();
            metrics.certificateIssued("failed", System.nanoTime() - start);
            IssuanceFailure failure = failures.recordFailure(name, e);
            log.warn(
                    "{} could not issue a certificate for {} ({} in a row; next attempt not before {}): {}",
                    issuer.label(),
                    name,
                    failure.failures(),
                    failure.retryAt(),
                    e.getMessage());
            throw new CompletionException(e);
        }
        CertifiedKey served = save(certified, hold);
        if (served != certified) {
            order.issued(); // the CA did issue: it counts against the limits
            failures.clear(name);
            return served;
        }
        failures.clear(name);
        order.issued();
        metrics.certificateIssued("ok", System.nanoTime() - start);
        log.info("{} issued a certificate for {}, valid until {}", issuer.label(), name, certified.notAfter());
        remember(certified);
        for (Consumer<CertifiedKey> listener : issuedListeners) {
            try {
                listener.accept(certified);
            } catch (RuntimeException e) {
                log.warn("a listener of issued certificates failed", e);
            }
        }
        return certified;
    }

    /**
     * Stores a certificate just issued, fenced by {@code hold}'s lease where there is one.
     *
     * @return {@code certified}, or, when the lease was taken over by another node meanwhile (nothing written), the
     *     certificate storage holds (that node's), if it has a valid one
     */
    private CertifiedKey save(CertifiedKey certified, OrderLeases.Hold hold) {
        String name = certified.name();
        if (hold != null) {
            try {
                store.save(certified, hold.lease());
                return certified;
            } catch (LeaseLostException e) {
                metrics.leaseLost();
                log.warn(
                        "the certificate just issued for {} was not stored: this node's lease #{} ran out and another"
                                + " node took it over ({}); serving what storage holds",
                        name,
                        e.token(),
                        e.currentToken() < 0 ? "and has given it back" : "now #" + e.currentToken());
                CertifiedKey stored = storedValidNow(name);
                return stored != null ? stored : certified;
            } catch (IOException | RuntimeException e) {
                // A storage that cannot write now: RetryingStorage keeps the plain write for later.
                log.warn(
                        "could not store the certificate for {} under its lease ({}); storing it plainly",
                        name,
                        e.toString());
            }
        }
        try {
            store.save(certified);
        } catch (IOException | RuntimeException e) {
            log.error("could not store the new certificate for {}; serving it from memory only", name, e);
        }
        return certified;
    }

    /** Announces a certificate about to be served, off the event loops, so the handshake finds its context ready. */
    private void remember(CertifiedKey certified) {
        try {
            events.ready(certified);
        } catch (Exception e) {
            // The handshake path builds it again and reports the failure there.
            log.warn("cannot build a TLS context for {}: {}", certified.name(), e.toString());
        }
    }

    private void swapIn(String name, CertifiedKey certified) {
        Held previous = memory.asMap().put(name, new Held(certified));
        expiries.add(Expiry.of(certified));
        if (previous != null && previous.certified != certified) {
            forgetContext(previous.certified); // at once, rather than when the removal listener gets to it
        }
    }

    private void forgetContext(CertifiedKey certified) {
        if (certified != null) {
            events.removed(certified);
            expiries.remove(Expiry.of(certified));
        }
    }

    /**
     * Seconds until the earliest expiry among certificates in memory, NaN when there are none. Reads the head of a
     * sorted set and drops entries that are no longer in memory, so a scrape does not scan 100,000 certificates.
     */
    private double secondsUntilEarliestExpiry() {
        for (Expiry head = first(); head != null; head = first()) {
            Held current = memory.getIfPresent(head.name());
            if (current != null && current.certified.leaf().getSerialNumber().equals(head.serial())) {
                return Duration.between(clock.instant(), head.notAfter()).toMillis() / 1000.0;
            }
            expiries.remove(head);
        }
        return Double.NaN;
    }

    private Expiry first() {
        Iterator<Expiry> iterator = expiries.iterator();
        return iterator.hasNext() ? iterator.next() : null;
    }

    private boolean expired(CertifiedKey certified) {
        return !clock.instant().isBefore(certified.notAfter());
    }

    /** The timer of resolvers built without one (tests): one daemon thread for the JVM. */
    private static final class SharedTimer {
        static final ScheduledExecutorService INSTANCE = Executors.newSingleThreadScheduledExecutor(runnable -> {
            Thread thread = new Thread(runnable, "clicktls-lease-timer");
            thread.setDaemon(true);
            return thread;
        });
    }

    private static <T> CompletableFuture<T> submit(Supplier<T> work, Executor executor) {
        try {
            return CompletableFuture.supplyAsync(work, executor);
        } catch (RejectedExecutionException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    private static void complete(CompletableFuture<CertifiedKey> future, CertifiedKey result, Throwable failure) {
        if (failure == null) {
            future.complete(result);
        } else {
            future.completeExceptionally(unwrap(failure));
        }
    }

    private static Throwable unwrap(Throwable failure) {
        return failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
    }
}
