package io.clicktls.tls;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.clicktls.config.ConfigSnapshot;
import io.clicktls.config.DomainTable;
import io.clicktls.issuance.CertificateIssuer;
import io.clicktls.issuance.IssuancePolicy;
import io.clicktls.metrics.Metrics;
import io.clicktls.pki.CertifiedKey;
import io.clicktls.storage.CertificateStore;
import java.io.IOException;
import java.math.BigInteger;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListSet;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The certificate for a host name, found or made on demand. The lookup order, for a name lower-cased and without a
 * trailing dot:
 * <ol>
 *   <li>memory: a bounded Caffeine cache of certificates by name; a hit answers at once on the calling thread;</li>
 *   <li>a name that is not a syntactically valid host name is refused here, without touching storage;</li>
 *   <li>storage: {@link CertificateStore#load} on the blocking executor;</li>
 *   <li>policy: {@link IssuancePolicy#decide}; a refusal fails the future with {@link NameRefusedException};</li>
 *   <li>issuer: {@link CertificateIssuer#issue} on the blocking executor;</li>
 *   <li>store: {@link CertificateStore#save} (a failure is logged; the certificate is still served);</li>
 *   <li>memory again, with its TLS context built ahead of the handshake.</li>
 * </ol>
 * Concurrent requests for one name share one future (single flight) from a map of lookups in flight; only
 * certificates enter the cache, so a failure is forgotten at once and the next handshake tries again. (Caffeine's
 * {@code AsyncCache} would do the single flight too, but it logs a WARNING with a stack trace for every failed load:
 * every refused random SNI from a scanner.) A certificate counts as absent only once expired: one inside its
 * renewal window is still served, and renewing it is {@link #renew}'s job, called by whoever schedules renewals.
 *
 * <p>Threading: {@link #certificate}, {@link #cached}, {@link #renew} and {@link #inMemory} never block and may run on
 * event loops; {@link #forget} does storage I/O and runs on the blocking executor. Thread-safe.
 */
public final class CertificateResolver implements CertificateSource {

    /** Default bound on certificates in memory. */
    public static final int DEFAULT_MAXIMUM_SIZE = 50_000;

    private static final Logger log = LoggerFactory.getLogger(CertificateResolver.class);

    private final Supplier<ConfigSnapshot> config;
    private final CertificateStore store;
    private final CertificateIssuer issuer;
    private final IssuancePolicy policy;
    private final Executor blocking;
    private final Metrics metrics;
    private final Clock clock;
    private final TlsContexts contexts;
    private final Cache<String, CertifiedKey> memory;
    private final Map<String, CompletableFuture<CertifiedKey>> lookups = new ConcurrentHashMap<>();
    private final Map<String, CompletableFuture<CertifiedKey>> renewals = new ConcurrentHashMap<>();
    private final List<Consumer<CertifiedKey>> issuedListeners = new CopyOnWriteArrayList<>();
    private final ConcurrentSkipListSet<Expiry> expiries = new ConcurrentSkipListSet<>();

    /** A certificate in memory, ordered by expiry, for the earliest-expiry gauge. */
    private record Expiry(Instant notAfter, String name, BigInteger serial) implements Comparable<Expiry> {
        private static final Comparator<Expiry> ORDER = Comparator.comparing(Expiry::notAfter)
                .thenComparing(Expiry::name)
                .thenComparing(Expiry::serial);

        static Expiry of(CertifiedKey certified) {
            return new Expiry(certified.notAfter(), certified.name(), certified.leaf().getSerialNumber());
        }

        @Override
        public int compareTo(Expiry other) {
            return ORDER.compare(this, other);
        }
    }

    /** With {@link CertificateResolver#DEFAULT_MAXIMUM_SIZE} certificates and {@link TlsContexts#TlsContexts()}. */
    public CertificateResolver(
            Supplier<ConfigSnapshot> config,
            CertificateStore store,
            CertificateIssuer issuer,
            IssuancePolicy policy,
            Executor blocking,
            Metrics metrics,
            Clock clock) {
        this(config, store, issuer, policy, blocking, metrics, clock, new TlsContexts(), DEFAULT_MAXIMUM_SIZE);
    }

    /**
     * @param blocking runs storage I/O and issuance; bounded; never an event loop
     * @param contexts where the TLS contexts of the certificates served live
     * @param maximumSize how many certificates stay in memory
     */
    public CertificateResolver(
            Supplier<ConfigSnapshot> config,
            CertificateStore store,
            CertificateIssuer issuer,
            IssuancePolicy policy,
            Executor blocking,
            Metrics metrics,
            Clock clock,
            TlsContexts contexts,
            int maximumSize) {
        this.config = config;
        this.store = store;
        this.issuer = issuer;
        this.policy = policy;
        this.blocking = blocking;
        this.metrics = metrics;
        this.clock = clock;
        this.contexts = contexts;
        this.memory = Caffeine.newBuilder()
                .maximumSize(maximumSize)
                .executor(Runnable::run) // the removal listener only drops cache entries: cheap
                .<String, CertifiedKey>removalListener((name, certified, cause) -> forgetContext(certified))
                .build();
        metrics.certificateGauges(memory::estimatedSize, this::secondsUntilEarliestExpiry);
    }

    public TlsContexts contexts() {
        return contexts;
    }

    @Override
    public Optional<CertifiedKey> cached(String name) {
        if (name == null) {
            return Optional.empty();
        }
        CertifiedKey certified = memory.getIfPresent(DomainTable.normalize(name));
        return certified != null && certified.validAt(clock.instant()) ? Optional.of(certified) : Optional.empty();
    }

    /**
     * {@inheritDoc} Each call returns its own future, so a caller's timeout or cancellation never reaches the shared
     * one; a memory hit returns a future that is already complete.
     */
    @Override
    public CompletableFuture<CertifiedKey> certificate(String rawName) {
        if (rawName == null) {
            return CompletableFuture.failedFuture(new NameRefusedException("(none)", IssuancePolicy.INVALID_NAME));
        }
        String name = DomainTable.normalize(rawName);
        CertifiedKey certified = servable(name);
        if (certified != null) {
            return CompletableFuture.completedFuture(certified);
        }
        if (!IssuancePolicy.validHostName(name)) {
            metrics.onDemandDenied(IssuancePolicy.INVALID_NAME);
            return CompletableFuture.failedFuture(new NameRefusedException(name, IssuancePolicy.INVALID_NAME));
        }
        CompletableFuture<CertifiedKey> mine = new CompletableFuture<>();
        CompletableFuture<CertifiedKey> running = lookups.putIfAbsent(name, mine);
        if (running != null) {
            return running.copy();
        }
        // A lookup may have finished between the memory check and taking the slot.
        certified = servable(name);
        if (certified != null) {
            lookups.remove(name, mine);
            mine.complete(certified);
            return mine.copy();
        }
        submit(() -> loadOrIssue(name)).whenComplete((result, failure) -> {
            if (failure == null) {
                // In memory before the slot is freed, so there is no moment with neither; a renewal that
                // finished meanwhile wins.
                CertifiedKey kept = memory.asMap().putIfAbsent(name, result);
                expiries.add(Expiry.of(kept == null ? result : kept));
            }
            lookups.remove(name, mine);
            complete(mine, result, failure);
        });
        return mine.copy();
    }

    /** The certificate in memory unless it has expired (which also drops it). */
    private CertifiedKey servable(String name) {
        CertifiedKey certified = memory.getIfPresent(name);
        if (certified != null && expired(certified)) {
            memory.asMap().remove(name, certified); // storage may hold a renewed one
            return null;
        }
        return certified;
    }

    /**
     * Issues a new certificate for {@code name} now, stores it, and swaps it in: new handshakes get the new
     * certificate and its context, open connections keep theirs. Single flight per name; waits for a first issuance
     * already under way rather than running beside it. Does not consult the policy: the caller asked explicitly.
     */
    public CompletableFuture<CertifiedKey> renew(String rawName) {
        String name = DomainTable.normalize(rawName);
        if (!IssuancePolicy.validHostName(name)) {
            return CompletableFuture.failedFuture(new NameRefusedException(name, IssuancePolicy.INVALID_NAME));
        }
        CompletableFuture<CertifiedKey> mine = new CompletableFuture<>();
        CompletableFuture<CertifiedKey> running = renewals.putIfAbsent(name, mine);
        if (running != null) {
            return running.copy();
        }
        CompletableFuture<CertifiedKey> inFlight = lookups.get(name);
        CompletableFuture<?> after =
                inFlight == null ? CompletableFuture.completedFuture(null) : inFlight.handle((c, e) -> c);
        after.thenApplyAsync(ignored -> issueAndStore(name), blocking)
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
        String name = DomainTable.normalize(rawName);
        memory.invalidate(name);
        store.delete(name);
    }

    /** The certificates in memory now (not those being looked up or issued). Copies; costs a pass over memory. */
    public List<CertifiedKey> inMemory() {
        return new ArrayList<>(memory.asMap().values());
    }

    /** Called with every certificate issued (first or renewed), on the blocking executor; must not block long. */
    public void onIssued(Consumer<CertifiedKey> listener) {
        issuedListeners.add(listener);
    }

    private CertifiedKey loadOrIssue(String name) {
        Optional<CertifiedKey> stored = store.load(name);
        if (stored.isPresent() && !expired(stored.get())) {
            remember(stored.get());
            return stored.get();
        }
        if (stored.isPresent()) {
            log.info("stored certificate for {} expired at {}; issuing a new one", name, stored.get().notAfter());
        }
        IssuancePolicy.Decision decision = policy.decide(name, config.get());
        if (!decision.allowed()) {
            metrics.onDemandDenied(decision.reason());
            throw new CompletionException(new NameRefusedException(name, decision.reason()));
        }
        return issueAndStore(name);
    }

    private CertifiedKey issueAndStore(String name) {
        long start = System.nanoTime();
        CertifiedKey certified;
        try {
            certified = issuer.issue(name);
        } catch (Exception e) {
            metrics.certificateIssued("failed", System.nanoTime() - start);
            log.warn("{} could not issue a certificate for {}: {}", issuer.label(), name, e.getMessage());
            throw new CompletionException(e);
        }
        try {
            store.save(certified);
        } catch (IOException | RuntimeException e) {
            log.error("could not store the new certificate for {}; serving it from memory only", name, e);
        }
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

    /** Builds the TLS context now, on the blocking executor, so the handshake finds it ready. */
    private void remember(CertifiedKey certified) {
        try {
            contexts.warm(certified);
        } catch (Exception e) {
            // The handshake path builds it again and reports the failure there.
            log.warn("cannot build a TLS context for {}: {}", certified.name(), e.toString());
        }
    }

    private void swapIn(String name, CertifiedKey certified) {
        CertifiedKey previous = memory.asMap().put(name, certified);
        expiries.add(Expiry.of(certified));
        if (previous != null && previous != certified) {
            forgetContext(previous); // at once, rather than when the removal listener gets to it
        }
    }

    private void forgetContext(CertifiedKey certified) {
        if (certified != null) {
            contexts.invalidate(certified);
            expiries.remove(Expiry.of(certified));
        }
    }

    /**
     * Seconds until the earliest expiry among certificates in memory, NaN when there are none. Reads the head of a
     * sorted set and drops entries that are no longer in memory, so a scrape does not scan 100,000 certificates.
     */
    private double secondsUntilEarliestExpiry() {
        for (Expiry head = first(); head != null; head = first()) {
            CertifiedKey current = memory.getIfPresent(head.name());
            if (current != null && current.leaf().getSerialNumber().equals(head.serial())) {
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

    private CompletableFuture<CertifiedKey> submit(Supplier<CertifiedKey> work) {
        try {
            return CompletableFuture.supplyAsync(work, blocking);
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
