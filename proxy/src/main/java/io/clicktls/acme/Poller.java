package io.clicktls.acme;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import org.shredzone.acme4j.PollableResource;
import org.shredzone.acme4j.Status;
import org.shredzone.acme4j.exception.AcmeException;

/**
 * Waits for an ACME resource (challenge, order) to reach a final status by polling: every 25 ms for the first
 * 300 ms, because a CA usually validates and signs within milliseconds (acme4j's own wait polls every 3 s), then
 * backing off ×1.5 up to once a second. A Retry-After from the CA is always honoured.
 *
 * <p>What this costs the CA, which limits request rates per IP (Let's Encrypt: 250 requests/s, burst 125, on the
 * endpoints polled here). Per wait at most {@value #MAX_POLLS_PER_WAIT} fetches: with the 90 s timeout the schedule
 * itself makes about 108 (12 in the flat 300 ms, 9 while backing off, then one a second), the cap keeps that bound
 * should the timeout grow. An order for one name waits at most three times (its challenge, an order not yet ready,
 * the order), so at most {@code 3 × 120 = 360} polls per order; against Let's Encrypt, which validates within a few
 * seconds, it is about 15 to 25. Across all orders of one issuer, fetches are paced to at most
 * {@value #POLLS_PER_SECOND} a second (burst {@value #POLL_BURST}): ten new names in one burst of clicks poll at
 * 50/s together, not 400/s.
 *
 * <p>Blocking; thread-safe (the pacing is shared by every order of the issuer).
 */
final class Poller {

    static final Duration FLAT_DELAY = Duration.ofMillis(25);
    static final Duration FLAT_PERIOD = Duration.ofMillis(300);
    static final double BACKOFF = 1.5;
    static final Duration MAX_DELAY = Duration.ofSeconds(1);
    static final int MAX_POLLS_PER_WAIT = 120;
    static final int POLLS_PER_SECOND = 50;
    static final int POLL_BURST = 10;

    private final Clock clock;
    private final Duration timeout;
    private final Sleeper sleeper;

    // token bucket shared by every wait; guarded by this
    private double tokens = POLL_BURST;
    private Instant refilled;

    /** Sleeps; a seam so a unit test can watch the delays instead of waiting them out. */
    interface Sleeper {
        void sleep(Duration duration) throws InterruptedException;
    }

    Poller(Clock clock, Duration timeout) {
        this(clock, timeout, duration -> Thread.sleep(Math.max(1, duration.toMillis())));
    }

    Poller(Clock clock, Duration timeout, Sleeper sleeper) {
        this.clock = clock;
        this.timeout = timeout;
        this.sleeper = sleeper;
        this.refilled = clock.instant();
    }

    /**
     * Fetches {@code resource} until its status is one of {@code done}, and returns that status.
     *
     * @param what names the resource in the timeout message, e.g. {@code "order for links.shop.com"}
     * @throws AcmeException from the fetch, or when the status is not final within the timeout
     */
    Status await(PollableResource resource, String what, Set<Status> done) throws AcmeException, InterruptedException {
        Instant start = clock.instant();
        Instant deadline = start.plus(timeout);
        Status status = resource.getStatus();
        double delayMillis = FLAT_DELAY.toMillis();
        Optional<Instant> retryAfter = Optional.empty();
        int polls = 0;
        while (!done.contains(status)) {
            Instant now = clock.instant();
            Instant next = now.plusMillis(Math.round(delayMillis));
            if (retryAfter.isPresent() && retryAfter.get().isAfter(next)) {
                next = retryAfter.get();
            }
            String state = what + " still " + status.name().toLowerCase(Locale.ROOT);
            if (next.isAfter(deadline)) {
                throw new AcmeException(state + " after " + timeout.toSeconds() + " s (" + polls + " polls)");
            }
            if (polls == MAX_POLLS_PER_WAIT) {
                throw new AcmeException(state + " after " + polls + " polls ("
                        + Duration.between(start, now).toSeconds() + " s)");
            }
            sleeper.sleep(Duration.between(now, next));
            pace();
            retryAfter = resource.fetch();
            polls++;
            status = resource.getStatus();
            if (Duration.between(start, clock.instant()).compareTo(FLAT_PERIOD) >= 0) {
                delayMillis = Math.min(MAX_DELAY.toMillis(), delayMillis * BACKOFF);
            }
        }
        return status;
    }

    /** Takes a token from the issuer-wide bucket, sleeping until one is there. */
    private void pace() throws InterruptedException {
        while (true) {
            Duration wait;
            synchronized (this) {
                Instant now = clock.instant();
                double elapsed = Duration.between(refilled, now).toNanos() / 1e9;
                if (elapsed > 0) {
                    tokens = Math.min(POLL_BURST, tokens + elapsed * POLLS_PER_SECOND);
                    refilled = now;
                }
                if (tokens >= 1) {
                    tokens -= 1;
                    return;
                }
                wait = Duration.ofNanos((long) Math.ceil((1 - tokens) / POLLS_PER_SECOND * 1e9));
            }
            sleeper.sleep(wait);
        }
    }
}
