package io.clicktls.admin;

import io.clicktls.pki.CertifiedKey;
import java.time.Instant;
import java.util.Locale;
import javax.security.auth.x500.X500Principal;

/**
 * What the status page shows of a certificate: never its key.
 *
 * @param issuedBy the issuer's label in clicktls, e.g. {@code internal} or the ACME directory's host
 * @param issuer the issuing CA's name from the certificate, e.g. {@code R11} or {@code Pebble Intermediate CA 1a2b}
 * @param serial hexadecimal
 * @param inMemory whether it is loaded and served from memory (else only in storage)
 * @param notPersisted why it is not in storage yet (served from memory, written when the storage takes writes
 *     again), e.g. {@code No space left on device}; {@code null} when it is persisted
 * @param issuedByNode the {@code node.name} of the node that stored it, or {@code null} when not recorded
 */
public record CertificateFacts(
        Instant notBefore,
        Instant notAfter,
        String issuedBy,
        String issuer,
        String serial,
        boolean inMemory,
        String notPersisted,
        String issuedByNode) {

    public CertificateFacts(
            Instant notBefore, Instant notAfter, String issuedBy, String issuer, String serial, boolean inMemory) {
        this(notBefore, notAfter, issuedBy, issuer, serial, inMemory, null, null);
    }

    /** These facts with {@link #notPersisted} set ({@code null}: persisted). */
    public CertificateFacts withNotPersisted(String reason) {
        return new CertificateFacts(notBefore, notAfter, issuedBy, issuer, serial, inMemory, reason, issuedByNode);
    }

    /** These facts with {@link #issuedByNode} set. */
    public CertificateFacts withIssuedByNode(String node) {
        return new CertificateFacts(notBefore, notAfter, issuedBy, issuer, serial, inMemory, notPersisted, node);
    }

    public static CertificateFacts of(CertifiedKey certified, boolean inMemory) {
        return new CertificateFacts(
                certified.notBefore(),
                certified.notAfter(),
                certified.issuer(),
                commonName(certified.leaf().getIssuerX500Principal()),
                certified.leaf().getSerialNumber().toString(16).toUpperCase(Locale.ROOT),
                inMemory);
    }

    /** The CN of a distinguished name, or the whole name when it has none. */
    static String commonName(X500Principal principal) {
        String name = principal.getName(X500Principal.RFC2253);
        for (String part : name.split(",(?=(?:[^\"]*\"[^\"]*\")*[^\"]*$)")) {
            if (part.regionMatches(true, 0, "CN=", 0, 3)) {
                return part.substring(3).replace("\\", "");
            }
        }
        return name;
    }
}
