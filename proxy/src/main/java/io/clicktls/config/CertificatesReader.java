package io.clicktls.config;

import java.util.List;

/**
 * {@code certificates:} the issuer and key type, and its subsections {@code acme}, {@code on_demand},
 * {@code limits} and {@code cleanup}.
 */
final class CertificatesReader {

    private static final List<String> KEYS = List.of("issuer", "key_type", "acme", "on_demand", "limits", "cleanup");
    private static final List<String> LIMITS_KEYS = List.of(
            "orders_per_3h",
            "certificates_per_registered_domain_per_week",
            "failed_validations_per_name_per_hour",
            "new_names_per_client_per_registered_domain_per_week");
    private static final List<String> CLEANUP_KEYS = List.of("grace");

    private final Section certificates;
    private OnDemandReader onDemand;
    private Certificates read;

    CertificatesReader(Section certificates) {
        this.certificates = certificates;
    }

    Certificates read() {
        certificates.allowOnly(KEYS);
        Certificates.IssuerKind issuer =
                certificates.choice("issuer", Certificates.DEFAULT_ISSUER, Certificates.IssuerKind.class);
        Certificates.KeyType keyType =
                certificates.choice("key_type", Certificates.DEFAULT_KEY_TYPE, Certificates.KeyType.class);
        Acme acme = AcmeReader.read(certificates.section("acme"), issuer);
        onDemand = new OnDemandReader(certificates.section("on_demand"));
        read = new Certificates(
                issuer, keyType, acme, onDemand.read(), limits(certificates.section("limits")), cleanup());
        return read;
    }

    /** Once the platforms are known: {@code on_demand.platform} must be one of them. */
    void checkPlatforms(List<String> declared) {
        onDemand.checkPlatform(read.onDemand(), declared);
    }

    private static Certificates.Limits limits(Section limits) {
        limits.allowOnly(LIMITS_KEYS);
        Certificates.Limits defaults = Certificates.Limits.DEFAULTS;
        // the per-client share's default follows the per-domain budget as set: the record's 3-argument constructor
        // derives it
        Certificates.Limits withDerivedShare = new Certificates.Limits(
                limits.positiveInt("orders_per_3h", defaults.ordersPer3h()),
                limits.positiveInt(
                        "certificates_per_registered_domain_per_week",
                        defaults.certificatesPerRegisteredDomainPerWeek()),
                limits.positiveInt("failed_validations_per_name_per_hour", defaults.failedValidationsPerNamePerHour()));
        return new Certificates.Limits(
                withDerivedShare.ordersPer3h(),
                withDerivedShare.certificatesPerRegisteredDomainPerWeek(),
                withDerivedShare.failedValidationsPerNamePerHour(),
                limits.positiveInt(
                        "new_names_per_client_per_registered_domain_per_week",
                        withDerivedShare.newNamesPerClientPerRegisteredDomainPerWeek()));
    }

    private Certificates.Cleanup cleanup() {
        Section cleanup = certificates.section("cleanup");
        cleanup.allowOnly(CLEANUP_KEYS);
        return new Certificates.Cleanup(cleanup.positiveDuration("grace", Certificates.Cleanup.DEFAULTS.grace()));
    }
}
