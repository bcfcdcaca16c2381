package io.clicktls.pki;

import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.List;

/**
 * A certificate chain (leaf first) and the private key of its leaf, for one host name.
 *
 * @param name the host name it was issued for (lower case)
 * @param issuer a short label of who issued it, e.g. {@code internal} or the ACME directory's host
 */
public record CertifiedKey(String name, PrivateKey key, List<X509Certificate> chain, String issuer) {

    public CertifiedKey {
        chain = List.copyOf(chain);
        if (chain.isEmpty()) {
            throw new IllegalArgumentException("empty certificate chain for " + name);
        }
    }

    public X509Certificate leaf() {
        return chain.get(0);
    }

    public Instant notBefore() {
        return leaf().getNotBefore().toInstant();
    }

    public Instant notAfter() {
        return leaf().getNotAfter().toInstant();
    }

    public boolean validAt(Instant now) {
        return !now.isBefore(notBefore()) && now.isBefore(notAfter());
    }
}
