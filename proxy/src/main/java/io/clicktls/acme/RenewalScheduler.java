package io.clicktls.acme;

import io.clicktls.pki.CertifiedKey;
import java.math.BigInteger;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Renews certificates before they expire: when the CA's ACME Renewal Information (RFC 9773) window says so, else
 * when a third of the lifetime is left. Renewal times carry random jitter so that a restart with many certificates
 * due does not send them all to the CA at once. A failed renewal is retried with exponential backoff from
 * {@link Settings#firstBackoff()} up to {@link Settings#maxBackoff()}. It never deletes anything: a certificate
 * stays in use until its replacement is in hand, and a still-valid one is never dropped for a failed renewal.
 *
 * <p>Threading: state changes run under this object's lock on the injected {@link ScheduledExecutorService}; the
 * {@link RenewalAction} must return quickly (do the work elsewhere and complete the stage later), and
 * {@link RenewalWindows} may block (an HTTP request to the CA), so the executor must not be an event loop.
 */
public final class RenewalScheduler implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(RenewalScheduler.class);

    static final int WINDOW_LOOKUPS_PER_SCAN = 200;
    /** How long a renewed certificate's old plan stays quiet if the new certificate has not shown up. */
    static final Duration RENEWED_QUIET = Duration.ofDays(1);

    /** The certificates in use now, one per name (e.g. the resolver's in-memory and stored ones). */
    @FunctionalInterface
    public interface HeldCertificates {
        Collection<CertifiedKey> certificates();
    }

    /** Starts a renewal of {@code name}; the stage completes when the new certificate is in use, or fails. */
    @FunctionalInterface
    public interface RenewalAction {
        CompletionStage<?> renew(String name);
    }

    /** The CA's suggested renewal window for a certificate (ARI), or empty when the CA offers none. May block. */
    @FunctionalInterface
    public interface RenewalWindows {
        Optional<Window> window(CertifiedKey certificate) throws Exception;

        /** No ARI: always the one-third-of-lifetime rule. */
        RenewalWindows NONE = certificate -> Optional.empty();
    }

    /** A renewal window: renew at a random moment in {@code [start, end)}. */
    public record Window(Instant start, Instant end) {
    }

    /**
     * @param scanInterval how often the held certificates are looked at
     * @param maxJitter the most a renewal is delayed past its due time (less when expiry is close)
     * @param firstBackoff the wait after a first failure; doubled per failure
     * @param maxBackoff the longest wait between failed attempts
     * @param windowRefresh how long an ARI answer is trusted before asking again
     */
    public record Settings(
            Duration scanInterval, Duration maxJitter, Duration firstBackoff, Duration maxBackoff,
            Duration windowRefresh) {

        public static final Settings DEFAULTS = new Settings(Duration.ofMinutes(10), Duration.ofHours(1),
                Duration.ofMinutes(1), Duration.ofHours(6), Duration.ofHours(6));
    }

    /** What is planned for one name, for the certificate with {@link #serial}. Guarded by the scheduler. */
    private static final class Plan {
        final BigInteger serial;
        Instant renewAt;
        Optional<Window> window = Optional.empty();
        Instant windowCheckedAt;
        int failures;
        String lastError;
        boolean inFlight;
        ScheduledFuture<?> timer;

        Plan(BigInteger serial) {
            this.serial = serial;
        }
    }

    private final HeldCertificates held;
    private final RenewalAction action;
    private final RenewalWindows windows;
    private final Clock clock;
    private final ScheduledExecutorService executor;
    private final Random random;
    private final Settings settings;
    private final Map<String, Plan> plans = new HashMap<>();
    private ScheduledFuture<?> scans;
    private int windowLookupsLeft;

    public RenewalScheduler(HeldCertificates held, RenewalAction action, RenewalWindows windows, Clock clock,
            ScheduledExecutorService executor, Random random, Settings settings) {
        this.held = held;
        this.action = action;
        this.windows = windows;
        this.clock = clock;
        this.executor = executor;
        this.random = random;
        this.settings = settings;
    }

    /** Looks at the held certificates now and then every {@link Settings#scanInterval()}. */
    public synchronized void start() {
        if (scans == null) {
            long every = settings.scanInterval().toMillis();
            scans = executor.scheduleWithFixedDelay(this::scanSafely, 0, every, TimeUnit.MILLISECONDS);
        }
    }

    @Override
    public synchronized void close() {
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

    /** When the next renewal of {@code name} is planned, for the status page. */
    public synchronized Optional<Instant> plannedRenewal(String name) {
        return Optional.ofNullable(plans.get(name)).map(plan -> plan.renewAt);
    }

    /** The last renewal error for {@code name} since its last success, for the status page. */
    public synchronized Optional<String> lastError(String name) {
        return Optional.ofNullable(plans.get(name)).map(plan -> plan.lastError);
    }

    private void scanSafely() {
        try {
            scan();
        } catch (RuntimeException e) {
            log.error("renewal scan failed", e);
        }
    }

    /** One look at every held certificate: plan new ones, start timers for those due before the next scan. */
    synchronized void scan() {
        Instant now = clock.instant();
        windowLookupsLeft = WINDOW_LOOKUPS_PER_SCAN;
        var seen = new HashSet<String>();
        for (CertifiedKey certificate : held.certificates()) {
            String name = certificate.name();
            seen.add(name);
            Plan plan = plans.get(name);
            if (plan == null || !plan.serial.equals(certificate.leaf().getSerialNumber())) {
                if (plan != null && plan.timer != null) {
                    plan.timer.cancel(false); // replaced (renewed elsewhere, or re-issued): plan afresh
                }
                plan = new Plan(certificate.leaf().getSerialNumber());
                plan.window = lookUpWindow(certificate, now, plan);
                plan.renewAt = dueTime(certificate, now, plan.window);
                plans.put(name, plan);
            } else if (plan.failures == 0 && !plan.inFlight
                    && !now.isBefore(plan.windowCheckedAt.plus(settings.windowRefresh()))) {
                // the CA may move its window (e.g. ahead of a mass revocation): ask again now and then
                Optional<Window> window = lookUpWindow(certificate, now, plan);
                if (window.isPresent() && !window.equals(plan.window)) {
                    plan.window = window;
                    plan.renewAt = dueTime(certificate, now, window);
                    if (plan.timer != null) {
                        plan.timer.cancel(false);
                        plan.timer = null;
                    }
                }
            }
            arm(name, plan, now);
        }
        plans.entrySet().removeIf(entry -> {
            if (seen.contains(entry.getKey()) || entry.getValue().inFlight) {
                return false;
            }
            if (entry.getValue().timer != null) {
                entry.getValue().timer.cancel(false);
            }
            return true; // no longer held (forgotten by the operator): nothing to renew
        });
    }

    /**
     * Asks the CA for its window, at most {@link #WINDOW_LOOKUPS_PER_SCAN} times per scan so that a restart with
     * many certificates does not hold the scan for minutes; the others keep the lifetime rule until a later scan.
     */
    private Optional<Window> lookUpWindow(CertifiedKey certificate, Instant now, Plan plan) {
        if (windowLookupsLeft <= 0) {
            plan.windowCheckedAt = now.minus(settings.windowRefresh()); // ask at the next scan
            return Optional.empty();
        }
        windowLookupsLeft--;
        plan.windowCheckedAt = now;
        try {
            return windows.window(certificate).filter(window -> window.end().isAfter(window.start()));
        } catch (Exception e) {
            log.debug("no renewal window from the CA for {}: {}", certificate.name(), e.toString());
            return Optional.empty();
        }
    }

    /** Starts a timer for a plan due before the next scan; later ones wait for a later scan. */
    private void arm(String name, Plan plan, Instant now) {
        if (plan.inFlight || plan.timer != null) {
            return;
        }
        if (plan.renewAt.isAfter(now.plus(settings.scanInterval()))) {
            return;
        }
        long delay = Math.max(0, Duration.between(now, plan.renewAt).toMillis());
        plan.timer = executor.schedule(() -> attempt(name, plan), delay, TimeUnit.MILLISECONDS);
    }

    private void attempt(String name, Plan plan) {
        synchronized (this) {
            plan.timer = null;
            if (plans.get(name) != plan || plan.inFlight) {
                return; // superseded by a newer certificate or already running
            }
            plan.inFlight = true;
        }
        log.info("renewing the certificate for {}", name);
        CompletionStage<?> renewal;
        try {
            renewal = action.renew(name);
        } catch (RuntimeException e) {
            renewal = CompletableFuture.failedFuture(e);
        }
        renewal.whenComplete((ignored, error) -> executor.execute(() -> finish(name, plan, error)));
    }

    private synchronized void finish(String name, Plan plan, Throwable error) {
        plan.inFlight = false;
        Instant now = clock.instant();
        if (error == null) {
            plan.failures = 0;
            plan.lastError = null;
            // the held certificates should show the new one at the next scan, which plans it afresh; until then
            // this stale plan must not renew again, or a lagging source would spend the CA's duplicate limit
            plan.renewAt = now.plus(RENEWED_QUIET);
            log.info("renewed the certificate for {}", name);
            return;
        }
        plan.failures++;
        plan.lastError = rootMessage(error);
        Duration backoff = backoff(plan.failures);
        plan.renewAt = now.plus(backoff);
        log.warn("renewing {} failed ({} in a row), next try in {}: {}", name, plan.failures, backoff,
                plan.lastError);
        if (plans.get(name) == plan) {
            arm(name, plan, now);
        }
    }

    Duration backoff(int failures) {
        Duration max = settings.maxBackoff();
        Duration wait = settings.firstBackoff();
        for (int i = 1; i < failures && wait.compareTo(max) < 0; i++) {
            wait = wait.multipliedBy(2);
        }
        return wait.compareTo(max) > 0 ? max : wait;
    }

    /** When to renew: in the CA's window if it gives one, else with a third of the lifetime left; plus jitter. */
    private Instant dueTime(CertifiedKey certificate, Instant now, Optional<Window> window) {
        Instant notAfter = certificate.notAfter();
        if (window.isPresent()) {
            Window w = window.get();
            if (!w.end().isAfter(now)) {
                return now.plus(jitter(now, notAfter)); // the window has passed: renew now, spread out
            }
            Instant start = w.start().isBefore(now) ? now : w.start();
            return start.plusMillis(randomMillis(Duration.between(start, w.end())));
        }
        Duration lifetime = Duration.between(certificate.notBefore(), notAfter);
        Instant due = notAfter.minus(lifetime.dividedBy(3));
        Instant base = due.isBefore(now) ? now : due;
        return base.plus(jitter(base, notAfter));
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
        while (root.getCause() != null && root.getCause() != root
                && (root instanceof CompletionException || root instanceof ExecutionException)) {
            root = root.getCause();
        }
        return root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage();
    }
}
