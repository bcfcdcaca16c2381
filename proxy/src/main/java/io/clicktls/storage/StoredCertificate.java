package io.clicktls.storage;

import java.math.BigInteger;
import java.time.Duration;
import java.time.Instant;

/**
 * What the store's index knows of one stored certificate, read from its {@code meta.json} without parsing the chain
 * or the key: enough to plan a renewal or to tell that a name has a certificate at all.
 *
 * @param name the exact host name (lower case)
 * @param issuer the issuer label it was stored with, e.g. {@code internal} or the ACME directory's host
 * @param serial the leaf's serial number
 * @param issuedByNode the {@code node.name} of the node that stored it, or {@code null} when not recorded (written
 *     before nodes had names)
 */
public record StoredCertificate(
        String name, String issuer, Instant notBefore, Instant notAfter, BigInteger serial, String issuedByNode) {

    /** Without the node that stored it. */
    public StoredCertificate(String name, String issuer, Instant notBefore, Instant notAfter, BigInteger serial) {
        this(name, issuer, notBefore, notAfter, serial, null);
    }

    public boolean validAt(Instant now) {
        return !now.isBefore(notBefore) && now.isBefore(notAfter);
    }

    public Duration lifetime() {
        return Duration.between(notBefore, notAfter);
    }
}
