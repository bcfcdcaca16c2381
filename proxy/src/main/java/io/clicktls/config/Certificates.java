package io.clicktls.config;

/** How certificates are obtained. */
public record Certificates(IssuerKind issuer, KeyType keyType, Acme acme, OnDemand onDemand) {

    public enum IssuerKind {
        /** A local CA made on first start; its root is {@code <storage>/ca/root.pem}. */
        INTERNAL,
        /** An ACME CA such as Let's Encrypt. */
        ACME
    }

    public enum KeyType {
        EC256,
        EC384,
        RSA2048,
        RSA4096
    }
}
