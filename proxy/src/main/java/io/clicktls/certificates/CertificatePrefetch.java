package io.clicktls.certificates;

import io.clicktls.config.Certificates;
import io.clicktls.config.ConfigSnapshot;
import io.clicktls.config.Domain;
import io.clicktls.metrics.Metrics;
import io.clicktls.pki.CertifiedKey;
import io.clicktls.storage.CertificateStore;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Issues the certificates of exact names listed in {@code domains} (and {@code domains_file}) before anyone clicks:
 * at start, once the store's index is read, and after each config reload, every listed exact name without a stored
 * certificate is looked up through the resolver ({@link CertificateResolver#prefetch}), so it goes the same way as a
 * handshake's lookup: single flight, backoff, policy ({@code domains}, DNS), rate limits, issuer, storage. Wildcard
 * patterns and names the {@code ask} endpoint allows stay on demand: nobody knows them before the first click.
 * {@code certificates.on_demand.prefetch: false} turns it off.
 *
 * <p>Pacing: at most {@link Settings#concurrency} orders at once; before each order the rate limits are checked with
 * a quarter of each budget kept back ({@link #keptForHandshakes}), so that the names clicked meanwhile still get
 * theirs; a name held back by a limit waits until the limit lets it through, and one the node-wide order window holds
 * back pauses all of them. A name refused because its DNS does not lead here yet (or the lookup failed) waits, with
 * the reason for the status page ({@link #waiting}), and is tried again later, sooner at first
 * ({@link Settings#firstRetry}, doubling up to {@link Settings#maxRetry}).
 *
 * <p>A pass over 100,000 listed names that all have a certificate costs one look in the store's index per name and
 * no I/O. Threading: passes and bookkeeping run on the blocking executor (never an event loop), timers on the given
 * scheduler; state is guarded by this object's lock, never held across a lookup. Thread-safe.
 */
public final class CertificatePrefetch implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(CertificatePrefetch.class);

    /**
     * @param concurrency how many prefetch orders may run at once
     * @param firstRetry how long a name that could not be issued (DNS elsewhere, a failed lookup) waits first
     * @param maxRetry the longest such a name waits between two tries
     */
    public record Settings(int concurrency, Duration firstRetry, Duration maxRetry) {

        public static final Settings DEFAULTS = new Settings(2, Duration.ofMinutes(1), Duration.ofHours(1));

        public Settings {
            if (concurrency < 1) {
                throw new IllegalArgumentException("concurrency: " + concurrency + " (expected: at least 1)");
            }
            Objects.requireNonNull(firstRetry, "firstRetry");
            Objects.requireNonNull(maxRetry, "maxRetry");
        }
    }

    /** Why a listed name has no certificate yet, as the status page shows it. */
    public enum WaitingFor {
        /** Its DNS does not lead to this proxy yet (or could not be asked, or CAA forbids the CA). */
        DNS,
        /** A rate limit, with a quarter of each budget kept for handshakes, holds it back. */
        RATE_LIMIT,
        /** The last attempt failed; the backoff decides when the next may run. */
        RETRY
    }

    /**
     * A listed name waiting to be tried again.
     *
     * @param reason one sentence for a person, e.g. {@code waiting for DNS: links.shop.com resolves to ...}
     * @param retryAt when it is tried again
     * @param tries how many tries ended this way in a row
     */
    public record Waiting(String name, WaitingFor waitingFor, String reason, Instant retryAt, int tries) {}

    private final Supplier<ConfigSnapshot> config;
    private final CertificateStore store;
    private final Function<String, CompletableFuture<CertifiedKey>> lookup;
    private final Predicate<String> inMemory;
    private final IssuancePolicy policy;
    private final Executor blocking;
    private final ScheduledExecutorService timers;
    private final Clock clock;
    private final Settings settings;
    private final Metrics metrics;

    private final Set<String> queued = new LinkedHashSet<>();
    private final Set<String> running = new LinkedHashSet<>();
    private final Map<String, Waiting> waiting = new HashMap<>();
    /** The waiting names by retry time; an entry no longer in {@link #waiting} is skipped. */
    private final PriorityQueue<Waiting> retries =
            new PriorityQueue<>((a, b) -> a.retryAt().compareTo(b.retryAt()));

    private Instant pausedUntil = Instant.MIN;
    private ScheduledFuture<?> wake;
    private Instant wakeAt;
    private boolean started;
    private boolean closed;

    /**
     * @param lookup the resolver's {@link CertificateResolver#prefetch}
     * @param inMemory whether the resolver holds a certificate for a name in memory
     * @param blocking runs passes and bookkeeping; never an event loop
     * @param timers wakes waiting names; its task only hands over to {@code blocking}
     */
    public CertificatePrefetch(
            Supplier<ConfigSnapshot> config,
            CertificateStore store,
            Function<String, CompletableFuture<CertifiedKey>> lookup,
            Predicate<String> inMemory,
            IssuancePolicy policy,
            Executor blocking,
            ScheduledExecutorService timers,
            Clock clock,
            Settings settings,
            Metrics metrics) {
        this.config = Objects.requireNonNull(config, "config");
        this.store = Objects.requireNonNull(store, "store");
        this.lookup = Objects.requireNonNull(lookup, "lookup");
        this.inMemory = Objects.requireNonNull(inMemory, "inMemory");
        this.policy = Objects.requireNonNull(policy, "policy");
        this.blocking = Objects.requireNonNull(blocking, "blocking");
        this.timers = Objects.requireNonNull(timers, "timers");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.settings = Objects.requireNonNull(settings, "settings");
        this.metrics = Objects.requireNonNull(metrics, "metrics");
        metrics.prefetchGauges(this::queuedCount, this::waitingCount);
    }

    /**
     * Makes the first pass; call once the store's index is read ({@link CertificateStore#indexReady()}), else every
     * stored name would look new. Blocking only as long as a pass over the listed names takes (memory only).
     */
    public void start() {
        synchronized (this) {
            if (started || closed) {
                return;
            }
            started = true;
        }
        pass(config.get());
    }

    /** Makes a pass over {@code snapshot} on the blocking executor, after a reload; nothing before {@link #start}. */
    public void configChanged(ConfigSnapshot snapshot) {
        synchronized (this) {
            if (!started || closed) {
                return;
            }
        }
        try {
            blocking.execute(() -> pass(snapshot));
        } catch (RejectedExecutionException e) {
            log.warn("cannot look for listed names to issue after the reload: {}", e.toString());
        }
    }

    /** Why a listed name waits for its certificate, if it does. Memory only; any thread. */
    public synchronized Optional<Waiting> waiting(String name) {
        return Optional.ofNullable(waiting.get(name));
    }

    /** How many listed names are queued or being issued now. */
    public synchronized int queuedCount() {
        return queued.size() + running.size();
    }

    /** How many listed names wait (DNS, a limit, a failure) to be tried again. */
    public synchronized int waitingCount() {
        return waiting.size();
    }

    @Override
    public synchronized void close() {
        closed = true;
        queued.clear();
        if (wake != null) {
            wake.cancel(false);
        }
    }

    /**
     * Queues every listed exact name of {@code snapshot} without a certificate (in the store's index or in memory)
     * that is neither queued, running nor waiting; forgets names no longer listed; starts orders.
     */
    void pass(ConfigSnapshot snapshot) {
        boolean enabled = snapshot.config().certificates().onDemand().prefetch();
        int added = 0;
        synchronized (this) {
            if (closed) {
                return;
            }
            if (!enabled) {
                queued.clear();
                waiting.clear();
                retries.clear();
                return;
            }
            for (Domain domain : snapshot.config().domains()) {
                String name = domain.name();
                if (domain.wildcard()
                        || store.hasIndexed(name)
                        || queued.contains(name)
                        || running.contains(name)
                        || waiting.containsKey(name)
                        || inMemory.test(name)) {
                    continue;
                }
                queued.add(name);
                added++;
            }
            queued.removeIf(name -> !listed(name, snapshot));
            waiting.keySet().removeIf(name -> !listed(name, snapshot));
        }
        if (added > 0) {
            log.info("issuing certificates ahead of the first handshake for {} listed name(s)", added);
        }
        drain();
    }

    /** Starts queued orders while there is room, the pace allows, and the limits leave the handshakes their part. */
    private void drain() {
        while (true) {
            String name;
            synchronized (this) {
                Instant now = clock.instant();
                if (closed || running.size() >= settings.concurrency() || queued.isEmpty()) {
                    return;
                }
                if (now.isBefore(pausedUntil)) {
                    wakeAt(pausedUntil);
                    return;
                }
                name = queued.iterator().next();
                queued.remove(name);
                Optional<IssuanceLimits.Hold> hold = policy.hold(name, CertificatePrefetch::keptForHandshakes);
                if (hold.isPresent()) {
                    held(name, hold.get(), now);
                    continue;
                }
                running.add(name);
            }
            CompletableFuture<CertifiedKey> order;
            try {
                order = lookup.apply(name);
            } catch (RuntimeException e) {
                order = CompletableFuture.failedFuture(e);
            }
            order.whenComplete((certified, error) -> {
                try {
                    blocking.execute(() -> finished(name, error));
                } catch (RejectedExecutionException stopped) {
                    log.debug("prefetch of {} finished after the node stopped", name);
                }
            });
        }
    }

    private void finished(String name, Throwable error) {
        synchronized (this) {
            running.remove(name);
            if (closed) {
                return;
            }
            Waiting before = waiting.remove(name);
            Instant now = clock.instant();
            if (error == null) {
                metrics.prefetched("issued");
            } else {
                retryLater(name, unwrap(error), before == null ? 0 : before.tries(), now);
            }
        }
        drain();
    }

    /** Decides when a name whose lookup failed is tried again, and why it waits; the lock is held. */
    private void retryLater(String name, Throwable error, int triesBefore, Instant now) {
        if (error instanceof NameRefusedException refused) {
            switch (refused.reason()) {
                case DNS_ELSEWHERE, DNS_NOT_FOUND, DNS_UNAVAILABLE, CAA_FORBIDS -> {
                    String found = refused.detail() != null
                            ? refused.detail()
                            : refused.reason().label();
                    park(name, WaitingFor.DNS, "waiting for DNS: " + found, backoff(triesBefore, now), triesBefore + 1);
                    metrics.prefetched("waiting_for_dns");
                    log.info("{}: waiting for DNS before issuing ({})", name, found);
                }
                case RATE_LIMITED, CLIENT_BUDGET -> {
                    Optional<IssuanceLimits.Hold> hold = policy.hold(name);
                    if (hold.isPresent()) {
                        held(name, hold.get(), now);
                    } else {
                        park(
                                name,
                                WaitingFor.RATE_LIMIT,
                                refused.getMessage(),
                                backoff(triesBefore, now),
                                triesBefore + 1);
                    }
                }
                case BACKOFF, TOO_MANY_PENDING, ASK_BUSY, ASK_UNAVAILABLE -> park(
                        name, WaitingFor.RETRY, refused.getMessage(), backoff(triesBefore, now), triesBefore + 1);
                default -> {
                    // no longer listed, or never issuable: nothing to wait for
                    metrics.prefetched("refused");
                    log.debug("{}: not issued ahead of the first handshake: {}", name, refused.reason());
                }
            }
            return;
        }
        if (error instanceof IssuanceHeldBackException heldBack) {
            Instant retryAt = heldBack.failure().retryAt();
            park(
                    name,
                    WaitingFor.RETRY,
                    "the last attempt failed: " + heldBack.failure().message(),
                    retryAt.isAfter(now) ? retryAt : backoff(triesBefore, now),
                    triesBefore + 1);
            return;
        }
        metrics.prefetched("failed");
        String message = error.getMessage() == null ? error.getClass().getSimpleName() : error.getMessage();
        // the resolver recorded the failure in IssuanceFailures; its backoff refuses an earlier try anyway
        park(name, WaitingFor.RETRY, "the last attempt failed: " + message, backoff(triesBefore, now), triesBefore + 1);
    }

    /** A limit holds {@code name} back: the node-wide order window pauses every name, others only this one. */
    private void held(String name, IssuanceLimits.Hold hold, Instant now) {
        metrics.prefetched("rate_limited");
        Instant retryAt = hold.retryAt().isAfter(now) ? hold.retryAt() : now.plus(settings.firstRetry());
        if (hold.limit().equals(IssuanceLimits.ORDERS)) {
            pausedUntil = retryAt;
            queued.add(name); // back in the queue: it was not its fault
            log.info("issuing ahead of the first handshake paused until {}: {}", retryAt, hold.explanation());
            wakeAt(retryAt);
            return;
        }
        park(name, WaitingFor.RATE_LIMIT, hold.explanation(), retryAt, 1);
    }

    private void park(String name, WaitingFor kind, String reason, Instant retryAt, int tries) {
        Waiting entry = new Waiting(name, kind, reason, retryAt, tries);
        waiting.put(name, entry);
        retries.add(entry);
        wakeAt(retryAt);
    }

    /** {@link Settings#firstRetry}, doubled per try before, at most {@link Settings#maxRetry}. */
    private Instant backoff(int triesBefore, Instant now) {
        Duration delay = settings.firstRetry();
        for (int i = 0; i < triesBefore && delay.compareTo(settings.maxRetry()) < 0; i++) {
            delay = delay.multipliedBy(2);
        }
        return now.plus(delay.compareTo(settings.maxRetry()) > 0 ? settings.maxRetry() : delay);
    }

    /** Makes sure a wake-up is planned no later than {@code at}; the lock is held. */
    private void wakeAt(Instant at) {
        if (closed || (wake != null && !wake.isDone() && wakeAt != null && !wakeAt.isAfter(at))) {
            return;
        }
        if (wake != null) {
            wake.cancel(false);
        }
        wakeAt = at;
        long delay = Math.max(0, Duration.between(clock.instant(), at).toMillis());
        try {
            wake = timers.schedule(
                    () -> {
                        try {
                            blocking.execute(this::wake);
                        } catch (RejectedExecutionException e) {
                            log.debug("prefetch wake-up after the node stopped");
                        }
                    },
                    delay,
                    TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            log.debug("prefetch wake-up not planned: the node stops");
        }
    }

    /** Moves the names whose wait is over back to the queue, if still listed and still without a certificate. */
    private void wake() {
        ConfigSnapshot snapshot = config.get();
        synchronized (this) {
            wake = null;
            wakeAt = null;
            if (closed) {
                return;
            }
            Instant now = clock.instant();
            while (!retries.isEmpty() && !retries.peek().retryAt().isAfter(now)) {
                Waiting due = retries.poll();
                if (waiting.get(due.name()) != due) {
                    continue; // superseded or forgotten
                }
                if (!snapshot.config().certificates().onDemand().prefetch()
                        || !listed(due.name(), snapshot)
                        || store.hasIndexed(due.name())) {
                    waiting.remove(due.name());
                    continue;
                }
                // stays in `waiting` (with its reason) until the try ends, so the status page does not flicker
                queued.add(due.name());
            }
            if (!retries.isEmpty()) {
                wakeAt(retries.peek().retryAt());
            }
        }
        drain();
    }

    /** Whether {@code name} is an exact {@code domains} entry of {@code snapshot}. */
    private static boolean listed(String name, ConfigSnapshot snapshot) {
        // configured() first: find() also routes names allowed on demand, which are not listed
        return snapshot.domains().configured(name)
                && snapshot.domains()
                        .find(name)
                        .map(route -> route.domain().name().equals(name))
                        .orElse(false);
    }

    /**
     * The limits as prefetch may spend them: a quarter of the node's orders per 3 hours and of each registered
     * domain's certificates per week is kept for the names clicked meanwhile (nothing is kept from a budget below 4).
     */
    static Certificates.Limits keptForHandshakes(Certificates.Limits limits) {
        return new Certificates.Limits(
                limits.ordersPer3h() - limits.ordersPer3h() / 4,
                limits.certificatesPerRegisteredDomainPerWeek() - limits.certificatesPerRegisteredDomainPerWeek() / 4,
                limits.failedValidationsPerNamePerHour(),
                limits.newNamesPerClientPerRegisteredDomainPerWeek());
    }

    private static Throwable unwrap(Throwable error) {
        Throwable cause = error;
        while (cause instanceof CompletionException && cause.getCause() != null) {
            cause = cause.getCause();
        }
        return cause;
    }
}
