package io.clicktls.config;

import static io.clicktls.config.Binding.quote;

import io.clicktls.config.YamlTree.Entry;
import io.clicktls.config.YamlTree.ListNode;
import io.clicktls.config.YamlTree.MapNode;
import io.clicktls.config.YamlTree.Node;
import io.clicktls.config.YamlTree.ScalarNode;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * {@code certificates:} the issuer and key type, and its subsections {@code acme}, {@code on_demand},
 * {@code limits} and {@code cleanup}.
 */
final class CertificatesReader {

    private static final List<String> KEYS =
            List.of("issuer", "key_type", "acme", "issuers", "on_demand", "limits", "cleanup");
    private static final String ISSUER_EXPECTED = "internal, or a map of ACME settings (directory, email, eab, ...)";
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
        List<Certificates.Issuer> issuers = issuers();
        if (!issuers.isEmpty()) {
            // the first issuer is the one `issuer` and `acme` stand for (the policy's CA checks, logs)
            issuer = issuers.get(0).kind();
            acme = issuers.stream()
                    .map(Certificates.Issuer::acme)
                    .filter(Objects::nonNull)
                    .findFirst()
                    .orElse(acme);
        }
        onDemand = new OnDemandReader(certificates.section("on_demand"));
        read = new Certificates(
                issuer, keyType, acme, onDemand.read(), limits(certificates.section("limits")), cleanup(), issuers);
        return read;
    }

    /**
     * {@code issuers:} in order of preference, each {@code internal} or a map of the {@code acme} keys plus
     * {@code name}; empty when not given. Labels (the name, else the directory's host) must differ: they record who
     * signed each certificate.
     */
    private List<Certificates.Issuer> issuers() {
        Binding binding = certificates.binding();
        String path = certificates.pathOf("issuers");
        Entry entry = certificates.entry("issuers");
        if (entry == null || Section.isBlank(entry.value())) {
            return List.of();
        }
        if (certificates.given("issuer") || certificates.given("acme")) {
            binding.expected(
                    entry.keyPosition(),
                    path + ": given with 'issuer' or 'acme'",
                    "either 'issuers' (a list) or 'issuer' with 'acme', not both");
        }
        if (!(entry.value() instanceof ListNode list) || list.items().isEmpty()) {
            binding.badShape(entry.value(), path, "a list of issuers: " + ISSUER_EXPECTED);
            return List.of();
        }
        List<Certificates.Issuer> issuers = new ArrayList<>();
        Set<String> labels = new HashSet<>();
        for (int i = 0; i < list.items().size(); i++) {
            Node item = list.items().get(i);
            String itemPath = path + "[" + i + "]";
            Certificates.Issuer read;
            if (item instanceof ScalarNode scalar && !scalar.blank()) {
                if (!"internal".equals(scalar.text())) {
                    binding.badValue(scalar, itemPath, ISSUER_EXPECTED);
                    continue;
                }
                read = Certificates.Issuer.INTERNAL;
            } else if (item instanceof MapNode map) {
                Section section = certificates.at(map, itemPath);
                Acme acme = AcmeReader.read(section, Certificates.IssuerKind.ACME, List.of("name"));
                String nameExpected = "a label such as zerossl: letters, digits, '.', '-' (it names a folder)";
                ScalarNode name = section.scalar("name", nameExpected);
                String label = null;
                if (name != null) {
                    if (name.text().matches("[A-Za-z0-9](?:[A-Za-z0-9.-]{0,62})")
                            && !name.text().contains("..")) {
                        label = name.text();
                    } else {
                        binding.badValue(name, section.pathOf("name"), nameExpected);
                    }
                }
                read = new Certificates.Issuer(label, acme);
            } else {
                binding.badShape(item, itemPath, ISSUER_EXPECTED);
                continue;
            }
            String label = read.name() != null
                    ? read.name()
                    : read.acme() == null
                            ? "internal"
                            : String.valueOf(read.acme().directory().getHost());
            if (!labels.add(label)) {
                binding.expected(
                        item.position(),
                        itemPath + ": a second issuer labelled " + quote(label),
                        "a 'name' of its own for each issuer, recorded with the certificates it signs");
                continue;
            }
            issuers.add(read);
        }
        return issuers;
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
