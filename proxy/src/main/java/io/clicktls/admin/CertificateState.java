package io.clicktls.admin;

import io.clicktls.certificates.CertificateLifetimes;
import io.clicktls.certificates.IssuanceFailure;
import java.time.Instant;
import java.util.Locale;

/** Where a name stands with its certificate, as the status page and API show it (lower case on the wire). */
public enum CertificateState {
    /** No certificate yet: one is issued on the first handshake (or with "renew now"). */
    NONE,
    /** Issuance or renewal runs now. */
    ISSUING,
    /** A certificate is served and is far from expiry. */
    VALID,
    /** Served, but close to expiry: fewer than 14 days or less than a third of its lifetime left. */
    EXPIRING,
    /** The certificate in storage has expired and no new one is in hand. */
    EXPIRED,
    /** The last attempt to issue or renew failed. */
    FAILED,
    /** Issuance is held back by a rate limit. */
    HELD,
    /** A listed name not issued yet because its DNS does not lead to this proxy (or CAA forbids the CA); retried. */
    WAITING_FOR_DNS;

    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * Issuing wins (something happens now); then a hold (a rate limit, or waiting for DNS), then a failure (the operator must act even while an older
     * certificate is still served); then what the certificate says.
     */
    static CertificateState of(
            CertificateFacts certificate, boolean issuing, IssuanceFailure failure, Hold hold, Instant now) {
        if (issuing) {
            return ISSUING;
        }
        if (hold != null && (hold.until() == null || hold.until().isAfter(now))) {
            return hold.kind() == Hold.Kind.DNS ? WAITING_FOR_DNS : HELD;
        }
        if (failure != null) {
            return FAILED;
        }
        if (certificate == null) {
            return NONE;
        }
        if (!now.isBefore(certificate.notAfter())) {
            return EXPIRED;
        }
        return CertificateLifetimes.expiring(certificate.notBefore(), certificate.notAfter(), now) ? EXPIRING : VALID;
    }
}
