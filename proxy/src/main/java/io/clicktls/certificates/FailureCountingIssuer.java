package io.clicktls.certificates;

import io.clicktls.pki.CertifiedKey;
import java.util.Objects;
import java.util.function.BiConsumer;

/**
 * An issuer whose failures are counted by issuer and by reason, for {@code
 * clicktls_certificate_issuance_failures_total{issuer,reason}}: the CA down or failing ({@code outage}), its rate limit
 * ({@code rate_limited}), a validation it could not complete ({@code validation}), anything else, such as the CA
 * refusing the name or storage failing ({@code other}). Four reasons and the configured issuers: no per-name label.
 *
 * <p>Blocking like the issuer it wraps (the issuance executor). Thread-safe when {@code failed} is.
 */
public final class FailureCountingIssuer implements CertificateIssuer {

    private final CertificateIssuer issuer;
    private final BiConsumer<String, String> failed;

    /** @param failed called with the issuer's label and one of {@code Metrics.ISSUER_FAILURE_REASONS} for each failed order */
    public FailureCountingIssuer(CertificateIssuer issuer, BiConsumer<String, String> failed) {
        this.issuer = Objects.requireNonNull(issuer, "issuer");
        this.failed = Objects.requireNonNull(failed, "failed");
    }

    @Override
    public CertifiedKey issue(String name) throws IssuanceException {
        try {
            return issuer.issue(name);
        } catch (IssuanceException e) {
            failed.accept(issuer.label(), reason(e));
            throw e;
        }
    }

    @Override
    public String label() {
        return issuer.label();
    }

    /** The metric's reason for a failed order. */
    static String reason(IssuanceException e) {
        if (e instanceof IssuerUnavailableException unavailable) {
            return switch (unavailable.reason()) {
                case UNREACHABLE -> "outage";
                case RATE_LIMITED -> "rate_limited";
                case VALIDATION_FAILED -> "validation";
            };
        }
        return "other";
    }
}
