package io.clicktls.acme;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.Set;
import org.shredzone.acme4j.PollableResource;
import org.shredzone.acme4j.Status;
import org.shredzone.acme4j.exception.AcmeException;

/**
 * Waits for an ACME resource (challenge, order) to reach a final status by polling fast at first, 20 ms and then
 * ×1.5 up to 1 s, because a CA usually validates and signs within milliseconds; acme4j's own wait polls every 3 s.
 * A Retry-After from the CA is honoured: it is what keeps a client within Let's Encrypt's rate limits. Blocking;
 * thread-safe (no state beyond its settings).
 */
final class Poller {

    static final Duration FIRST_DELAY = Duration.ofMillis(20);
    static final Duration MAX_DELAY = Duration.ofSeconds(1);

    private final Clock clock;
    private final Duration timeout;
    private final Sleeper sleeper;

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
    }

    /**
     * Fetches {@code resource} until its status is one of {@code done}, and returns that status.
     *
     * @param what names the resource in the timeout message, e.g. {@code "order for links.shop.com"}
     * @throws AcmeException from the fetch, or when the status is not final within the timeout
     */
    Status await(PollableResource resource, String what, Set<Status> done)
            throws AcmeException, InterruptedException {
        Instant deadline = clock.instant().plus(timeout);
        Status status = resource.getStatus();
        long delayMillis = FIRST_DELAY.toMillis();
        Optional<Instant> retryAfter = Optional.empty();
        while (!done.contains(status)) {
            Instant now = clock.instant();
            Instant next = now.plusMillis(delayMillis);
            if (retryAfter.isPresent() && retryAfter.get().isAfter(next)) {
                next = retryAfter.get();
            }
            if (next.isAfter(deadline)) {
                throw new AcmeException(what + " still " + status.name().toLowerCase() + " after "
                        + timeout.toSeconds() + " s");
            }
            sleeper.sleep(Duration.between(now, next));
            retryAfter = resource.fetch();
            status = resource.getStatus();
            delayMillis = Math.min(MAX_DELAY.toMillis(), Math.round(delayMillis * 1.5));
        }
        return status;
    }
}
