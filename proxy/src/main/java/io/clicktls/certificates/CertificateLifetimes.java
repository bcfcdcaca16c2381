package io.clicktls.certificates;

import io.clicktls.storage.CertificateStore;
import io.clicktls.storage.StoredCertificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;

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

    private final CertificateStore store;
    private final Clock clock;
    private Instant computedAt = Instant.MIN;
    private double smallest = Double.NaN;

    public CertificateLifetimes(CertificateStore store, Clock clock) {
        this.store = store;
        this.clock = clock;
    }

    /** The smallest remaining fraction of a lifetime among stored certificates, in [0, 1]; NaN when there are none. */
    public synchronized double smallestRemainingFraction() {
        Instant now = clock.instant();
        if (now.isBefore(computedAt.plus(REFRESH))) {
            return smallest;
        }
        double[] min = {Double.NaN};
        long nowMillis = now.toEpochMilli();
        store.forEachIndexed(stored -> {
            double fraction = remainingFraction(stored, nowMillis);
            if (Double.isNaN(min[0]) || fraction < min[0]) {
                min[0] = fraction;
            }
        });
        smallest = min[0];
        computedAt = now;
        return smallest;
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
