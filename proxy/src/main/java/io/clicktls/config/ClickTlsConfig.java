package io.clicktls.config;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * The whole config file, validated and immutable. Built only by {@link ConfigLoader}; platform presets are
 * already resolved into upstreams and relative paths are already resolved against the file's folder.
 *
 * @param admin the admin listener's token ({@code admin:})
 * @param limits the client connection limits ({@code limits:})
 * @param tuning transport, event loops and DNS server ({@code tuning:}), read at start only
 * @param domainsFile the {@code domains_file} whose entries are part of {@code domains}, absolute, or {@code null}
 * @param source the file it was read from, or {@code null} for a config built in code (tests)
 * @param node this node's name among those sharing the storage ({@code node:}), read at start only
 */
public record ClickTlsConfig(
        Listen listen,
        StorageSettings storage,
        Certificates certificates,
        Map<String, Platform> platforms,
        List<Domain> domains,
        Upgrade upgrade,
        Admin admin,
        ConnectionLimits limits,
        Tuning tuning,
        Path domainsFile,
        Path source,
        NodeIdentity node) {

    public ClickTlsConfig {
        platforms = Map.copyOf(platforms);
        domains = List.copyOf(domains);
        admin = admin == null ? Admin.NONE : admin;
        limits = limits == null ? ConnectionLimits.DEFAULTS : limits;
        tuning = tuning == null ? Tuning.DEFAULTS : tuning;
        node = node == null ? NodeIdentity.DEFAULTS : node;
    }

    /** With the default {@code limits} and {@link Tuning}, and no {@code domains_file}: for configs built in code. */
    public ClickTlsConfig(
            Listen listen,
            StorageSettings storage,
            Certificates certificates,
            Map<String, Platform> platforms,
            List<Domain> domains,
            Upgrade upgrade,
            Admin admin,
            Path source) {
        this(
                listen,
                storage,
                certificates,
                platforms,
                domains,
                upgrade,
                admin,
                ConnectionLimits.DEFAULTS,
                Tuning.DEFAULTS,
                null,
                source,
                null);
    }

    /** Without an {@code admin:} section (no token): for configs built in code. */
    public ClickTlsConfig(
            Listen listen,
            StorageSettings storage,
            Certificates certificates,
            Map<String, Platform> platforms,
            List<Domain> domains,
            Upgrade upgrade,
            Path source) {
        this(listen, storage, certificates, platforms, domains, upgrade, Admin.NONE, source);
    }
}
