package io.clicktls.certificates;

/**
 * No certificate is served for a name because its last issuance failed and the backoff does not allow another
 * attempt yet; the CA is not asked. Routine while a CA is down or a name's DNS is wrong, so it carries no stack trace.
 */
public final class IssuanceHeldBackException extends Exception {

    private final String name;
    private final IssuanceFailure failure;

    public IssuanceHeldBackException(String name, IssuanceFailure failure) {
        super(
                "issuance for " + name + " held back until " + failure.retryAt() + " after " + failure.failures()
                        + (failure.failures() == 1 ? " failure: " : " failures: ") + failure.message(),
                null,
                false,
                false);
        this.name = name;
        this.failure = failure;
    }

    public String name() {
        return name;
    }

    public IssuanceFailure failure() {
        return failure;
    }

    /** Always {@link Refusal#BACKOFF}. */
    public Refusal reason() {
        return Refusal.BACKOFF;
    }
}
