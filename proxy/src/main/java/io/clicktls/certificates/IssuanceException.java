package io.clicktls.certificates;

import java.time.Instant;

/**
 * Issuance failed. {@link #retryAfter()} says when trying again makes sense ({@code null}: the caller's own
 * backoff decides); the message is what the CA said, fit for the status page.
 */
public class IssuanceException extends Exception {

    private final Instant retryAfter;

    public IssuanceException(String message, Throwable cause, Instant retryAfter) {
        super(message, cause);
        this.retryAfter = retryAfter;
    }

    public IssuanceException(String message, Throwable cause) {
        this(message, cause, null);
    }

    public IssuanceException(String message) {
        this(message, null, null);
    }

    public Instant retryAfter() {
        return retryAfter;
    }
}
