package io.clicktls.certificates;

import io.clicktls.pki.CertifiedKey;
import io.clicktls.storage.CertificateStore;
import io.clicktls.storage.StoredCertificate;
import java.math.BigInteger;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Renews stored certificates before they expire: when the CA's ACME Renewal Information (RFC 9773) window says so,
 * else when a third of the lifetime is left. It plans from the {@link CertificateStore}'s index (name, validity,
 * serial from each {@code meta.json}), so a certificate nobody has asked for since a restart is renewed too, and it
 * loads a full certificate only to ask the CA for its window. Renewal times carry random jitter so that a restart
 * with many certificates due does not send them all to the CA at once.
 *
 * <p>A failed renewal is retried when the shared {@link IssuanceFailures} allow, the one place that decides the
 * backoff for first issuance and renewal alike (the CA's Retry-After, else 1 minute doubling up to 6 hours, and
 * the CA's hourly limit of failed validations; it survives restarts and is seen by every node). A failure the
 * renewal action did not record there (it failed before reaching the CA) waits by the same schedule. It never deletes anything: a certificate stays in use until its
 * replacement is in hand, and a still-valid one is never dropped for a failed renewal. Names the config no longer
 * serves are not renewed.
 *
 * <p>Memory: a plan is kept only for a certificate due before the next scan, one whose CA window is known, or one
 * with failures; the other entries of a 100,000-certificate store cost nothing between scans, and a scan is one
 * pass over the index.
 *
 * <p>Threading: state changes run under this object's lock on the injected {@link ScheduledExecutorService}; the
 * {@link RenewalAction} must return quickly (do the work elsewhere and complete the stage later), while loading a
 * certificate, asking {@link RenewalWindows} and reading the failure state may block, so the executor must not be an
 * event loop.
 */
public final class RenewalScheduler implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(RenewalScheduler.class);

    static final int WINDOW_LOOKUPS_PER_SCAN = 200;
    /** How long window lookups pause after one failed. */
    static final Duration WINDOW_ERROR_PAUSE = Duration.ofHours(1);
    /** How long a renewed certificate's old plan stays quiet if the new certificate has not shown up. */
    static final Duration RENEWED_QUIET = Duration.ofDays(1);

    /** Starts a renewal of {@code name}; the stage completes when the new certificate is in use, or fails. */
    @FunctionalInterface
    public interface RenewalAction {
        CompletionStage<?> renew(String name);
    }

    /** The CA's suggested renewal window for a certificate (ARI), or empty when the CA offers none. May block. */
    @FunctionalInterface
    public interface RenewalWindows {
        Optional<Window> window(CertifiedKey certificate) throws Exception;

        /**
         * Whether the CA may have a window for a certificate stored with this issuer label. Cheap, no I/O: it decides
         * whether the certificate is loaded at all.
         */
        default boolean covers(String issuer) {
            return true;
        }

        /** No ARI: always the one-third-of-lifetime rule, and no certificate is ever loaded to ask. */
        RenewalWindows NONE = new RenewalWindows() {
            @Override
            public Optional<Window> window(CertifiedKey certificate) {
                return Optional.empty();
            }

            @Override
            public boolean covers(String issuer) {
                return false;
            }
        };

        /** Windows from {@code lookup}, asked only for certificates stored with the issuer label {@code issuer}. */
        static RenewalWindows forIssuer(String issuer, RenewalWindows lookup) {
            return new RenewalWindows() {
                @Override
                public Optional<Window> window(CertifiedKey certificate) throws Exception {
                    return lookup.window(certificate);
                }

                @Override
                public boolean covers(String label) {
                    return issuer.equals(label);
                }
            };
        }
    }

    /** A renewal window: renew at a random moment in {@code [start, end)}. */
    public record Window(Instant start, Instant end) {}

    /**
     * @param scanInterval how often the index is looked at
     * @param maxJitter the most a renewal already overdue (e.g. after a restart) is delayed, so that many of them do
     *     not reach the CA at once (less when expiry is close)
     * @param windowRefresh how long an ARI answer (or the CA's lack of ARI) is trusted before asking again
     * @param jitterShare the most a renewal planned by the lifetime rule is delayed past its due time, as a share of
     *     the certificate's lifetime (at most a quarter of the time left): a fleet issued in a burst renews spread
     *     over hours for 6-day certificates and days for 90-day ones, rather than all within the same hour
     */
    public record Settings(Duration scanInterval, Duration maxJitter, Duration windowRefresh, double jitterShare) {

        /** A 30th of the lifetime: 4.8 hours for a 6-day certificate, 3 days for a 90-day one. */
        public static final double DEFAULT_JITTER_SHARE = 1.0 / 30;

        public static final Settings DEFAULTS =
                new Settings(Duration.ofMinutes(10), Duration.ofHours(1), Duration.ofHours(6), DEFAULT_JITTER_SHARE);

        /** With the default {@link #DEFAULT_JITTER_SHARE}. */
        public Settings(Duration scanInterval, Duration maxJitter, Duration windowRefresh) {
            this(scanInterval, maxJitter, windowRefresh, DEFAULT_JITTER_SHARE);
        }
    }

    /**
     * What is planned for one name, for the certificate with {@link #serial}: a renewal due before the next scan, or
     * a known CA window ({@link #windowCheckedAt} set), or failures. Guarded by the scheduler.
     */
    private static final class Plan {
        final BigInteger serial;
        Instant renewAt;
        Optional<Window> window = Optional.empty();
        Instant windowCheckedAt;
        int failures;
        String lastError;
        boolean inFlight;
        /** When the last attempt started: a failure recorded since then is this attempt's. */
        Instant attemptedAt = Instant.MIN;

        ScheduledFuture<?> timer;
        long seenInScan;

        Plan(BigInteger serial) {
            this.serial = serial;
        }
    }

    private final CertificateStore store;
    private final RenewalAction action;
    private final RenewalWindows windows;
    private final Predicate<String> configured;
    private final IssuanceFailures failures;
    private final Clock clock;
    private final ScheduledExecutorService executor;
    private final Random random;
    private final Settings settings;
    private final Map<String, Plan> plans = new HashMap<>();
    private ScheduledFuture<?> scans;
    private boolean closed;
    private long scanCount;
    private int windowLookupsLeft;
    private Instant noWindowsUntil = Instant.MIN;

    private RenewalScheduler(Builder builder) {
        this.store = Objects.requireNonNull(builder.store, "store");
        this.action = Objects.requireNonNull(builder.action, "action");
        this.executor = Objects.requireNonNull(builder.executor, "executor");
        this.windows = builder.windows;
        this.configured = builder.configured;
        this.failures = builder.failures;
        this.clock = builder.clock;
        this.random = builder.random;
        this.settings = builder.settings;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Options; {@link #store}, {@link #action} and {@link #executor} are required. */
    public static final class Builder {
        private CertificateStore store;
        private RenewalAction action;
        private ScheduledExecutorService executor;
        private RenewalWindows windows = RenewalWindows.NONE;
        private Predicate<String> configured = name -> true;
        private IssuanceFailures failures;
        private Clock clock = Clock.systemUTC();
        private Random random = new SecureRandom();
        private Settings settings = Settings.DEFAULTS;

        private Builder() {}

        /** Where the certificates and their index are; the index should be scanned before {@link #start()}. */
        public Builder store(CertificateStore store) {
            this.store = store;
            return this;
        }

        /** What renews a name, e.g. {@code resolver::renew}. */
        public Builder action(RenewalAction action) {
            this.action = action;
            return this;
        }

        /** Runs scans, timers and window lookups; not an event loop. */
        public Builder executor(ScheduledExecutorService executor) {
            this.executor = executor;
            return this;
        }

        /** The CA's renewal windows (ARI); default {@link RenewalWindows#NONE}. */
        public Builder windows(RenewalWindows windows) {
            this.windows = windows;
            return this;
        }

        /** Whether the config still serves a name (e.g. {@code resolver::configured}); others are not renewed. */
        public Builder configured(Predicate<String> configured) {
            this.configured = configured;
            return this;
        }

        /** The shared failure state whose retry times renewals honour; default none. */
        public Builder failures(IssuanceFailures failures) {
            this.failures = failures;
            return this;
        }

        public Builder clock(Clock clock) {
            this.clock = clock;
            return this;
        }

        /** The source of jitter. */
        public Builder random(Random random) {
            this.random = random;
            return this;
        }

        public Builder settings(Settings settings) {
            this.settings = settings;
            return this;
        }

        public RenewalScheduler build() {
            return new RenewalScheduler(this);
        }
    }

    /** Looks at the index now and then every {@link Settings#scanInterval()}. Does nothing once closed. */
    public synchronized void start() {
        if (scans == null && !closed) {
            long every = settings.scanInterval().toMillis();
            scans = executor.scheduleWithFixedDelay(this::scanSafely, 0, every, TimeUnit.MILLISECONDS);
        }
    }

    @Override
    public synchronized void close() {
        closed = true;
        if (scans != null) {
            scans.cancel(false);
        }
        plans.values().forEach(plan -> {
            if (plan.timer != null) {
                plan.timer.cancel(false);
            }
        });
        plans.clear();
    }

    /**
     * When the next renewal of {@code name} is planned, for the status page: the planned time when there is a plan,
     * else when a third of the stored certificate's lifetime is left (before jitter).
     */
    public synchronized Optional<Instant> plannedRenewal(String name) {
        Plan plan = plans.get(name);
        if (plan != null) {
            return Optional.of(plan.renewAt);
        }
        return store.indexed(name).map(RenewalScheduler::lifetimeDue);
    }

    /** The last renewal error for {@code name} since its last success, for the status page. */
    public synchronized Optional<String> lastError(String name) {
        return Optional.ofNullable(plans.get(name)).map(plan -> plan.lastError);
    }

    /** How many names have a plan in memory now; for tests of the memory bound. */
    synchronized int plansHeld() {
        return plans.size();
    }

    private void scanSafely() {
        try {
            scan();
        } catch (RuntimeException e) {
            log.error("renewal scan failed", e);
        }
    }

    /** One pass over the index: plan what comes due before the next scan, start its timers, drop stale plans. */
    synchronized void scan() {
        if (closed) {
            return;
        }
        Instant now = clock.instant();
        long scan = ++scanCount;
        windowLookupsLeft = WINDOW_LOOKUPS_PER_SCAN;
        store.forEachIndexed(entry -> consider(entry, now, scan));
        plans.entrySet().removeIf(entry -> {
            Plan plan = entry.getValue();
            if (plan.seenInScan == scan || plan.inFlight) {
                return false;
            }
            if (plan.timer != null) {
                plan.timer.cancel(false);
            }
            return true; // forgotten by the operator, or no longer configured: nothing to renew
        });
    }

    private void consider(StoredCertificate entry, Instant now, long scan) {
        String name = entry.name();
        Plan plan = plans.get(name);
        if (plan != null && !plan.serial.equals(entry.serial())) {
            if (plan.inFlight) {
                plan.seenInScan = scan; // its own renewal replaced the certificate; it finishes shortly
                return;
            }
            if (plan.timer != null) {
                plan.timer.cancel(false); // replaced (renewed elsewhere, or re-issued): plan afresh
            }
            plans.remove(name);
            plan = null;
        }
        if (!configured.test(name)) {
            return; // left unseen, so any plan goes at the end of the scan
        }
        if (plan == null) {
            Optional<Window> window = asksForWindow(entry, now) ? lookUpWindow(entry, now) : Optional.empty();
            if (window.isEmpty() && lifetimeDue(entry).isAfter(now.plus(settings.scanInterval()))) {
                return; // nothing to remember until a later scan
            }
            // from here the jittered time is kept, so that scans do not keep drawing a new one for an overdue name
            plan = new Plan(entry.serial());
            plan.window = window;
            plan.windowCheckedAt = window.isPresent() ? now : null;
            plan.renewAt = dueTime(entry, now, window);
            plans.put(name, plan);
        } else if (plan.failures == 0
                && !plan.inFlight
                && plan.windowCheckedAt != null
                && !now.isBefore(plan.windowCheckedAt.plus(settings.windowRefresh()))
                && asksForWindow(entry, now)) {
            // the CA may move its window (e.g. ahead of a mass revocation): ask again now and then
            Optional<Window> window = lookUpWindow(entry, now);
            plan.windowCheckedAt = now;
            if (window.isPresent() && !window.equals(plan.window)) {
                plan.window = window;
                plan.renewAt = dueTime(entry, now, window);
                if (plan.timer != null) {
                    plan.timer.cancel(false);
                    plan.timer = null;
                }
            }
        }
        plan.seenInScan = scan;
        arm(name, plan, now);
    }

    /**
     * Whether to ask the CA for this certificate's window now: only for its own certificates, while it has not just
     * said it offers none, and at most {@link #WINDOW_LOOKUPS_PER_SCAN} times per scan, so that a restart with many
     * certificates does not hold the scan for minutes; the others keep the lifetime rule until a later scan.
     */
    private boolean asksForWindow(StoredCertificate entry, Instant now) {
        return windowLookupsLeft > 0 && now.isAfter(noWindowsUntil) && windows.covers(entry.issuer());
    }

    /** Loads the certificate (ARI names it by issuer key and serial) and asks the CA for its window. */
    private Optional<Window> lookUpWindow(StoredCertificate entry, Instant now) {
        windowLookupsLeft--;
        Optional<CertifiedKey> certificate = store.load(entry.name());
        if (certificate.isEmpty() || !certificate.get().leaf().getSerialNumber().equals(entry.serial())) {
            return Optional.empty(); // unreadable or replaced meanwhile; the next scan sees the new one
        }
        try {
            Optional<Window> window = windows.window(certificate.get());
            if (window.isEmpty()) {
                // the CA offers no windows: stop loading certificates to ask until the answer may have changed
                noWindowsUntil = now.plus(settings.windowRefresh());
                return Optional.empty();
            }
            return window.filter(w -> w.end().isAfter(w.start()));
        } catch (Exception e) {
            // most likely the CA is unreachable: every lookup would fail, each after loading a certificate
            noWindowsUntil = now.plus(WINDOW_ERROR_PAUSE);
            log.debug("no renewal window from the CA for {}: {}", entry.name(), e.toString());
            return Optional.empty();
        }
    }

    /**
     * Starts a timer for a plan due before the next scan; later ones wait for a later scan. A name the shared failure
     * state holds back (a failure before a restart, or on another node) waits until it allows another attempt.
     */
    private void arm(String name, Plan plan, Instant now) {
        if (plan.inFlight || plan.timer != null) {
            return;
        }
        Instant horizon = now.plus(settings.scanInterval());
        if (plan.renewAt.isAfter(horizon)) {
            return;
        }
        Optional<IssuanceFailure> failure = failures == null ? Optional.empty() : failures.lastFailure(name);
        if (failure.isPresent() && failure.get().retryAt().isAfter(plan.renewAt)) {
            plan.renewAt = failure.get().retryAt();
            if (plan.lastError == null) {
                plan.lastError = failure.get().message();
            }
            if (plan.renewAt.isAfter(horizon)) {
                return;
            }
        }
        long delay = Math.max(0, Duration.between(now, plan.renewAt).toMillis());
        plan.timer = executor.schedule(() -> attempt(name, plan), delay, TimeUnit.MILLISECONDS);
    }

    private void attempt(String name, Plan plan) {
        synchronized (this) {
            plan.timer = null;
            if (closed || plans.get(name) != plan || plan.inFlight) {
                return; // superseded by a newer certificate or already running
            }
            plan.inFlight = true;
            plan.attemptedAt = clock.instant();
        }
        log.info("renewing the certificate for {}", name);
        CompletionStage<?> renewal;
        try {
            renewal = action.renew(name);
        } catch (RuntimeException e) {
            renewal = CompletableFuture.failedFuture(e);
        }
        renewal.whenComplete((ignored, error) -> {
            try {
                executor.execute(() -> finish(name, plan, error));
            } catch (RuntimeException stopped) {
                log.debug("renewal of {} finished after the scheduler stopped", name);
            }
        });
    }

    private synchronized void finish(String name, Plan plan, Throwable error) {
        plan.inFlight = false;
        Instant now = clock.instant();
        if (error == null) {
            plan.failures = 0;
            plan.lastError = null;
            // the index should show the new certificate at the next scan, which plans it afresh; until then this
            // stale plan must not renew again, or a lagging source would spend the CA's duplicate limit
            plan.renewAt = now.plus(RENEWED_QUIET);
            log.info("renewed the certificate for {}", name);
            return;
        }
        plan.failures++;
        plan.lastError = rootMessage(error);
        plan.renewAt = retryAt(name, plan, now);
        log.warn(
                "renewing {} failed ({} in a row), next try at {} at the earliest: {}",
                name,
                plan.failures,
                plan.renewAt,
                plan.lastError);
        if (!closed && plans.get(name) == plan) {
            arm(name, plan, now);
        }
    }

    /**
     * When a failed renewal may be tried again: as the shared failure state decided when the attempt recorded its
     * failure there (the resolver does for every failure at the CA), else by the same schedule. Reads the failure
     * state: may block.
     */
    private Instant retryAt(String name, Plan plan, Instant now) {
        Optional<IssuanceFailure> recorded = failures == null ? Optional.empty() : failures.lastFailure(name);
        return recorded.filter(failure -> !failure.at().isBefore(plan.attemptedAt))
                .map(IssuanceFailure::retryAt)
                .orElseGet(() -> now.plus(IssuanceFailures.backoff(plan.failures)));
    }

    /**
     * When to renew: in the CA's window if it gives one, else with a third of the lifetime left (two days ahead for a
     * 6-day certificate) plus jitter in proportion to the lifetime.
     */
    private Instant dueTime(StoredCertificate entry, Instant now, Optional<Window> window) {
        Instant notAfter = entry.notAfter();
        if (window.isPresent()) {
            Window w = window.get();
            if (!w.end().isAfter(now)) {
                return now.plus(jitter(now, notAfter)); // the window has passed: renew now, spread out
            }
            Instant start = w.start().isBefore(now) ? now : w.start();
            return start.plusMillis(randomMillis(Duration.between(start, w.end())));
        }
        Instant due = lifetimeDue(entry);
        if (due.isBefore(now)) {
            return now.plus(jitter(now, notAfter)); // overdue: soon, spread out
        }
        Duration bound = Duration.ofMillis((long) (entry.lifetime().toMillis() * settings.jitterShare()));
        Duration quarterLeft = Duration.between(due, notAfter).dividedBy(4);
        if (bound.compareTo(quarterLeft) > 0) {
            bound = quarterLeft;
        }
        return due.plusMillis(randomMillis(bound));
    }

    private static Instant lifetimeDue(StoredCertificate entry) {
        return entry.notAfter().minus(entry.lifetime().dividedBy(3));
    }

    /** A random delay of at most {@link Settings#maxJitter()} and at most a quarter of the time left. */
    private Duration jitter(Instant from, Instant notAfter) {
        Duration left = Duration.between(from, notAfter);
        Duration bound = left.isNegative() ? Duration.ZERO : left.dividedBy(4);
        if (bound.compareTo(settings.maxJitter()) > 0) {
            bound = settings.maxJitter();
        }
        return Duration.ofMillis(randomMillis(bound));
    }

    private long randomMillis(Duration bound) {
        long millis = bound.toMillis();
        return millis <= 0 ? 0 : (long) (random.nextDouble() * millis);
    }

    private static String rootMessage(Throwable error) {
        Throwable root = error;
        while (root.getCause() != null
                && root.getCause() != root
                && (root instanceof CompletionException || root instanceof ExecutionException)) {
            root = root.getCause();
        }
        return root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage();
    }
}
