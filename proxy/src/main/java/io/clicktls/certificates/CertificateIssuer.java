package io.clicktls.certificates;

import io.clicktls.pki.CertifiedKey;

/**
 * Obtains a new certificate for one host name: the internal CA or an ACME CA.
 *
 * <p>Blocking: runs on the bounded issuance executor, never on an event loop. Callers coalesce concurrent
 * requests for one name, so an implementation sees at most one call per name at a time.
 */
public interface CertificateIssuer {

    /** Issues a certificate with a fresh key of the configured type. */
    CertifiedKey issue(String name) throws IssuanceException;

    /** A short label for logs and the status page, e.g. {@code internal} or {@code acme-v02.api.letsencrypt.org}. */
    String label();
}
