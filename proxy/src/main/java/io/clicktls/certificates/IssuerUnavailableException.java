package io.clicktls.certificates;

import java.time.Instant;

/**
 * Issuance failed for a reason of the issuer's rather than the name's, so another issuer may succeed: the CA is
 * down or slow, it rate-limits, or it could not validate the name. {@link FallbackIssuer} moves on to the next
 * issuer on these.
 */
public final class IssuerUnavailableException extends IssuanceException {

    /** Why the issuer could not issue. */
    public enum Reason {
        /** Connection refused, a timeout, or a 5xx answer: every name is affected. */
        UNREACHABLE,
        /** The CA's rate limit: this name (its registered domain, the account) waits for the CA's Retry-After. */
        RATE_LIMITED,
        /** The CA's validation of this name failed. */
        VALIDATION_FAILED
    }

    private final Reason reason;

    public IssuerUnavailableException(Reason reason, String message, Throwable cause, Instant retryAfter) {
        super(message, cause, retryAfter);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}
