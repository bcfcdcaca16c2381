package io.clicktls.certificates;

import java.time.Instant;

/**
 * Why issuance for one name failed last, for the status page and the backoff.
 *
 * @param message what the CA said ({@link IssuanceException#getMessage()})
 * @param at when the last attempt failed
 * @param failures consecutive failed attempts, this one included
 * @param retryAt the earliest time another attempt is allowed
 */
public record IssuanceFailure(String message, Instant at, int failures, Instant retryAt) {

    /** Whether another attempt must still wait at {@code now}. */
    public boolean holdsBackAt(Instant now) {
        return now.isBefore(retryAt);
    }
}
