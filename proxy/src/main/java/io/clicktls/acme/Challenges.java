package io.clicktls.acme;

import io.clicktls.pki.CertifiedKey;
import java.util.Optional;

/**
 * Answers to ACME challenges in progress, published by the ACME issuer and read by the listeners. Kept behind
 * {@link io.clicktls.storage.Storage} so that in a cluster any node can answer the CA's validation request.
 *
 * <p>Blocking (storage I/O): call from the blocking executor; implementations keep a memory copy so that the node
 * that ordered answers without I/O.
 */
public interface Challenges {

    /** The key authorization to serve at {@code /.well-known/acme-challenge/{token}} (http-01). */
    Optional<String> httpKeyAuthorization(String token);

    /** The RFC 8737 certificate to present to a ClientHello for {@code name} offering only {@code acme-tls/1}. */
    Optional<CertifiedKey> tlsAlpnCertificate(String name);

    /** No challenges: for the internal issuer. */
    Challenges NONE = new Challenges() {
        @Override
        public Optional<String> httpKeyAuthorization(String token) {
            return Optional.empty();
        }

        @Override
        public Optional<CertifiedKey> tlsAlpnCertificate(String name) {
            return Optional.empty();
        }
    };
}
