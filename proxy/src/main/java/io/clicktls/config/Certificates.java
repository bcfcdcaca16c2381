package io.clicktls.config;

import java.time.Duration;
import java.util.List;

/**
 * How certificates are obtained, how often the CA may be asked, and when unused ones are let go.
 *
 * @param issuer the kind of the first issuer
 * @param acme the first ACME issuer's settings (the {@code acme:} block, or the first ACME entry of {@code issuers})
 * @param issuers the issuers in order of preference, never empty: {@code certificates.issuers}, else the one issuer
 *     that {@code issuer} and {@code acme} describe
 */
public record Certificates(
        IssuerKind issuer,
        KeyType keyType,
        Acme acme,
        OnDemand onDemand,
        Limits limits,
        Cleanup cleanup,
        List<Issuer> issuers) {

    public static final IssuerKind DEFAULT_ISSUER = IssuerKind.INTERNAL;
    public static final KeyType DEFAULT_KEY_TYPE = KeyType.EC256;

    public Certificates {
        issuers = issuers == null || issuers.isEmpty()
                ? List.of(issuer == IssuerKind.ACME ? new Issuer(null, acme) : Issuer.INTERNAL)
                : List.copyOf(issuers);
    }

    /** One issuer: {@code issuer} and {@code acme} as the only one. */
    public Certificates(
            IssuerKind issuer, KeyType keyType, Acme acme, OnDemand onDemand, Limits limits, Cleanup cleanup) {
        this(issuer, keyType, acme, onDemand, limits, cleanup, List.of());
    }

    /** With the default {@link Limits} and {@link Cleanup}. */
    public Certificates(IssuerKind issuer, KeyType keyType, Acme acme, OnDemand onDemand) {
        this(issuer, keyType, acme, onDemand, Limits.DEFAULTS, Cleanup.DEFAULTS);
    }

    public enum IssuerKind {
        /** A local CA made on first start; its root is {@code <storage>/ca/root.pem}. */
        INTERNAL,
        /** An ACME CA such as Let's Encrypt. */
        ACME
    }

    /**
     * One entry of {@code certificates.issuers}.
     *
     * @param name the label recorded with each certificate it signs and shown on the status page, or {@code null} for
     *     the directory's host ({@code internal} for the internal CA)
     * @param acme the ACME CA's settings, or {@code null} for the internal CA
     */
    public record Issuer(String name, Acme acme) {

        public static final Issuer INTERNAL = new Issuer(null, null);

        public IssuerKind kind() {
            return acme == null ? IssuerKind.INTERNAL : IssuerKind.ACME;
        }
    }

    public enum KeyType {
        EC256,
        EC384,
        RSA2048,
        RSA4096
    }

    /**
     * Issuance rate limits, kept below Let's Encrypt's (300 new orders per account per 3 hours, 50 certificates per
     * registered domain per 7 days, 5 failed validations per name per hour) so that clicktls stops before the CA
     * does. Serving a certificate already held is never limited, and renewing one is never held back by the
     * registered-domain or per-client budgets, which are for new names.
     *
     * @param newNamesPerClientPerRegisteredDomainPerWeek how many orders for new names (names without a certificate,
     *     first asked for by a client, not listed as an exact {@code domains} entry) one client address (IPv6: its
     *     /64) may start per registered domain in 7 days: a share of the registered domain's budget, so that one
     *     client alone cannot spend it
     */
    public record Limits(
            int ordersPer3h,
            int certificatesPerRegisteredDomainPerWeek,
            int failedValidationsPerNamePerHour,
            int newNamesPerClientPerRegisteredDomainPerWeek) {

        /** A quarter of the registered domain's week per client. */
        public static final Limits DEFAULTS = new Limits(250, 40, 4, 10);

        /** With the default per-client share: a quarter of {@code certificatesPerRegisteredDomainPerWeek}, at least 1. */
        public Limits(
                int ordersPer3h, int certificatesPerRegisteredDomainPerWeek, int failedValidationsPerNamePerHour) {
            this(
                    ordersPer3h,
                    certificatesPerRegisteredDomainPerWeek,
                    failedValidationsPerNamePerHour,
                    Math.max(1, certificatesPerRegisteredDomainPerWeek / 4));
        }
    }

    /**
     * @param grace how long the certificate of a name no longer allowed (removed from {@code domains}, denied by
     *     {@code ask}, DNS pointing elsewhere) is kept, unrenewed, before it is deleted
     */
    public record Cleanup(Duration grace) {

        public static final Cleanup DEFAULTS = new Cleanup(Duration.ofDays(30));
    }
}
