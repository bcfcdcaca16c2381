package io.clicktls.certificates;

import io.clicktls.metrics.Metrics;
import io.clicktls.storage.CertificateStore;
import io.clicktls.storage.StoredCertificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;

/**
 * How much of their lifetime the stored certificates have left, as one number for an alert that works the same for
 * 6-day and 90-day certificates: the smallest remaining fraction ({@code (notAfter - now) / (notAfter - notBefore)},
 * 0 once expired) over every certificate in the store's index. Renewal starts with a third left, so a value below
 * {@code 1/3} for long means renewals fail.
 *
 * <p>A pass over the index costs about a millisecond per ten thousand certificates, so the value is computed at most
 * once per {@link #REFRESH} and scrapes in between read the last one. Thread-safe; memory only, any thread.
 */
public final class CertificateLifetimes {

    /** How long a computed value is served before the index is walked again. */
    static final Duration REFRESH = Duration.ofSeconds(30);

    /** A certificate is expiring with less than a third of its lifetime left, and at most this long left. */
    public static final Duration EXPIRING_WITHIN = Duration.ofDays(14);

    /** The issuer under which {@link #stored} counts certificates of an issuer no longer configured. */
    public static final String OTHER_ISSUER = "other";

    private final CertificateStore store;
    private final Clock clock;
    private Instant computedAt = Instant.MIN;
    private double smallest = Double.NaN;
    /** Per issuer label as stored: the counts of {@link Metrics#STORED_STATES}, from the same pass as {@link #smallest}. */
    private Map<String, int[]> byIssuer = Map.of();

    public CertificateLifetimes(CertificateStore store, Clock clock) {
        this.store = store;
        this.clock = clock;
    }

    /** The smallest remaining fraction of a lifetime among stored certificates, in [0, 1]; NaN when there are none. */
    public synchronized double smallestRemainingFraction() {
        refresh();
        return smallest;
    }

    /**
     * How many stored certificates {@code issuer} signed that are in {@code state} (one of {@link Metrics#STORED_STATES}), for
     * {@code clicktls_certificates_stored{issuer,state}}; {@link #OTHER_ISSUER} counts those of issuers not in
     * {@code configured}.
     */
    public synchronized int stored(String issuer, String state, Collection<String> configured) {
        refresh();
        int index = Metrics.STORED_STATES.indexOf(state);
        if (!issuer.equals(OTHER_ISSUER) || configured.contains(OTHER_ISSUER)) {
            int[] counts = byIssuer.get(issuer);
            return counts == null ? 0 : counts[index];
        }
        int others = 0;
        for (Map.Entry<String, int[]> entry : byIssuer.entrySet()) {
            if (!configured.contains(entry.getKey())) {
                others += entry.getValue()[index];
            }
        }
        return others;
    }

    /** Walks the index when the last pass is older than {@link #REFRESH}; the lock is held. */
    private void refresh() {
        Instant now = clock.instant();
        if (now.isBefore(computedAt.plus(REFRESH))) {
            return;
        }
        double[] min = {Double.NaN};
        Map<String, int[]> counts = new HashMap<>();
        long nowMillis = now.toEpochMilli();
        store.forEachIndexed(stored -> {
            double fraction = remainingFraction(stored, nowMillis);
            if (Double.isNaN(min[0]) || fraction < min[0]) {
                min[0] = fraction;
            }
            int state =
                    !now.isBefore(stored.notAfter()) ? 2 : expiring(stored.notBefore(), stored.notAfter(), now) ? 1 : 0;
            counts.computeIfAbsent(String.valueOf(stored.issuer()), issuer -> new int[Metrics.STORED_STATES.size()])[
                    state]++;
        });
        smallest = min[0];
        byIssuer = counts;
        computedAt = now;
    }

    /**
     * Whether a certificate still valid at {@code now} is close to its end: less than a third of its lifetime left
     * (when renewal starts) or less than {@link #EXPIRING_WITHIN}, whichever is shorter, so that 6-day certificates are
     * not expiring all their life.
     */
    public static boolean expiring(Instant notBefore, Instant notAfter, Instant now) {
        Duration left = Duration.between(now, notAfter);
        Duration third = Duration.between(notBefore, notAfter).dividedBy(3);
        Duration threshold = third.compareTo(EXPIRING_WITHIN) < 0 ? third : EXPIRING_WITHIN;
        return left.compareTo(threshold) < 0;
    }

    /** {@code (notAfter - now) / lifetime}, clamped to [0, 1]. */
    static double remainingFraction(StoredCertificate stored, long nowMillis) {
        long notAfter = stored.notAfter().toEpochMilli();
        long lifetime = notAfter - stored.notBefore().toEpochMilli();
        if (lifetime <= 0) {
            return 0;
        }
        double fraction = (double) (notAfter - nowMillis) / lifetime;
        return Math.max(0, Math.min(1, fraction));
    }
}
