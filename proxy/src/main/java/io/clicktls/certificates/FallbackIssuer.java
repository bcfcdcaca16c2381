package io.clicktls.certificates;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.clicktls.pki.CertifiedKey;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.BiConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Several issuers in the configured order, as one: a name's order goes to the first issuer that is healthy and not
 * holding that name back, and falls through to the next when an issuer is unreachable, rate-limits the name, or has
 * failed to validate it {@value #VALIDATION_FAILURES_TO_FALL_THROUGH} times in a row. An unreachable issuer is left
 * alone for a backoff that doubles from {@link #OUTAGE_BACKOFF_MIN} to {@link #OUTAGE_BACKOFF_MAX} and ends at its
 * first success, so every order, renewals included, goes back to the first issuer once it recovers. The signing
 * issuer is the label of the certificate returned ({@link CertifiedKey#issuer()}).
 *
 * <p>Other failures (the CA refused the name, storage failed) are the name's and end the order without trying the
 * others. When every issuer is backing off, the order fails with the earliest time one may be tried again.
 *
 * <p>Blocking, like every {@link CertificateIssuer}: runs on the issuance executor. Thread-safe.
 */
public final class FallbackIssuer implements CertificateIssuer {

    private static final Logger log = LoggerFactory.getLogger(FallbackIssuer.class);

    static final Duration OUTAGE_BACKOFF_MIN = Duration.ofSeconds(30);
    static final Duration OUTAGE_BACKOFF_MAX = Duration.ofMinutes(30);
    /** How long an issuer that failed to validate a name repeatedly is passed over for that name. */
    static final Duration VALIDATION_HOLD = Duration.ofHours(1);

    static final int VALIDATION_FAILURES_TO_FALL_THROUGH = 2;

    private final List<Entry> issuers;
    private final Clock clock;
    private final BiConsumer<String, String> fellBack;

    /** One configured issuer and what it has shown lately. */
    private static final class Entry {
        final CertificateIssuer issuer;
        // guarded by this entry
        Instant unhealthyUntil = Instant.MIN;
        int outages;
        /** Per name: when this issuer may have it again (a rate limit, repeated validation failures). */
        final Cache<String, Instant> heldUntil =
                Caffeine.newBuilder().maximumSize(100_000).build();

        final Cache<String, Integer> validationFailures = Caffeine.newBuilder()
                .maximumSize(100_000)
                .expireAfterWrite(Duration.ofDays(1))
                .build();

        Entry(CertificateIssuer issuer) {
            this.issuer = issuer;
        }

        synchronized Instant unhealthyUntil() {
            return unhealthyUntil;
        }

        synchronized void healthy() {
            unhealthyUntil = Instant.MIN;
            outages = 0;
        }

        synchronized Instant unreachable(Instant now, Instant retryAfter) {
            Duration backoff = OUTAGE_BACKOFF_MIN.multipliedBy(1L << Math.min(outages, 16));
            if (backoff.compareTo(OUTAGE_BACKOFF_MAX) > 0) {
                backoff = OUTAGE_BACKOFF_MAX;
            }
            outages++;
            Instant until = now.plus(backoff);
            if (retryAfter != null && retryAfter.isAfter(until)) {
                until = retryAfter;
            }
            unhealthyUntil = until;
            return until;
        }
    }

    /**
     * @param issuers in order of preference; at least one, each with its own label
     * @param clock for backoffs and the CA's Retry-After instants
     */
    public FallbackIssuer(List<? extends CertificateIssuer> issuers, Clock clock) {
        this(issuers, clock, (from, to) -> {});
    }

    /**
     * @param fellBack told, for each certificate not signed by the first issuer, the first issuer's label and the
     *     signer's ({@code clicktls_issuer_fallbacks_total{from,to}})
     */
    public FallbackIssuer(List<? extends CertificateIssuer> issuers, Clock clock, BiConsumer<String, String> fellBack) {
        if (issuers.isEmpty()) {
            throw new IllegalArgumentException("no issuers");
        }
        this.issuers = issuers.stream().map(Entry::new).toList();
        this.clock = Objects.requireNonNull(clock, "clock");
        this.fellBack = Objects.requireNonNull(fellBack, "fellBack");
    }

    /** The issuers in order of preference. */
    public List<CertificateIssuer> issuers() {
        return issuers.stream().map(entry -> entry.issuer).toList();
    }

    @Override
    public CertifiedKey issue(String name) throws IssuanceException {
        List<String> passedOver = new ArrayList<>();
        Instant earliestRetry = null;
        IssuanceException last = null;
        for (Entry entry : issuers) {
            Instant now = clock.instant();
            Instant waitUntil = later(entry.unhealthyUntil(), entry.heldUntil.getIfPresent(name));
            if (waitUntil != null && waitUntil.isAfter(now)) {
                passedOver.add(entry.issuer.label() + " (until " + waitUntil + ")");
                earliestRetry = earlier(earliestRetry, waitUntil);
                continue;
            }
            try {
                CertifiedKey issued = entry.issuer.issue(name);
                entry.healthy();
                entry.validationFailures.invalidate(name);
                entry.heldUntil.invalidate(name);
                if (entry != issuers.get(0)) {
                    log.info("{}: issued by {}, passed over {}", name, entry.issuer.label(), passedOver);
                    fellBack.accept(label(), entry.issuer.label());
                }
                return issued;
            } catch (IssuerUnavailableException e) {
                Instant until = fallThrough(entry, name, e, now);
                if (until == null) {
                    throw e; // a first validation failure: the name's own backoff retries this issuer
                }
                log.warn(
                        "{}: {} failed ({}), trying the next issuer: {}",
                        name,
                        entry.issuer.label(),
                        e.reason(),
                        e.getMessage());
                passedOver.add(entry.issuer.label() + " (" + e.getMessage() + ")");
                earliestRetry = earlier(earliestRetry, until);
                last = e;
            }
        }
        String message = "no issuer could issue for " + name + ": " + String.join("; ", passedOver);
        throw new IssuanceException(message, last, earliestRetry);
    }

    /** Records a failure; returns until when the issuer is passed over, or {@code null} to not fall through. */
    private Instant fallThrough(Entry entry, String name, IssuerUnavailableException e, Instant now) {
        switch (e.reason()) {
            case UNREACHABLE:
                return entry.unreachable(now, e.retryAfter());
            case RATE_LIMITED:
                Instant limited = e.retryAfter() == null ? now.plus(OUTAGE_BACKOFF_MAX) : e.retryAfter();
                entry.heldUntil.put(name, limited);
                return limited;
            case VALIDATION_FAILED:
            default:
                int failures = entry.validationFailures.asMap().merge(name, 1, Integer::sum);
                if (failures < VALIDATION_FAILURES_TO_FALL_THROUGH) {
                    return null;
                }
                entry.validationFailures.invalidate(name);
                Instant held = now.plus(VALIDATION_HOLD);
                entry.heldUntil.put(name, held);
                return held;
        }
    }

    /** The first issuer's label: the one every order tries first. */
    @Override
    public String label() {
        return issuers.get(0).issuer.label();
    }

    private static Instant later(Instant a, Instant b) {
        if (b == null) {
            return a;
        }
        return a.isAfter(b) ? a : b;
    }

    private static Instant earlier(Instant a, Instant b) {
        if (a == null) {
            return b;
        }
        return b == null || a.isBefore(b) ? a : b;
    }
}
