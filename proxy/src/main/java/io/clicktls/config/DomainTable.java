package io.clicktls.config;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Predicate;

/**
 * Maps a host name to its tracked-domain entry and platform: exact names first, then a one-label wildcard, then, when
 * {@code certificates.on_demand.platform} is set, that platform for a name the issuance policy allowed on demand
 * (see {@link #withOnDemand}). Immutable and safe to share between threads; lookups of configured names cost two hash
 * probes and allocate only the lower-cased name when the input is not lower case already.
 */
public final class DomainTable {

    /** A served host name's domain entry and the platform it forwards to. */
    public record Route(Domain domain, Platform platform) {

        /** The entry's own options (its platform's merged in), else its platform's. */
        public DomainOptions options() {
            return domain.options().isEmpty() ? platform.options() : domain.options();
        }
    }

    private final Map<String, Route> exact;
    private final Map<String, Route> wildcardParents;
    /** Where names allowed on demand go, or {@code null}. */
    private final Platform onDemandPlatform;

    private final Predicate<String> allowedOnDemand;

    public DomainTable(List<Domain> domains, Map<String, Platform> platforms) {
        this(domains, platforms, null);
    }

    /**
     * @param onDemandPlatform the key of the platform for names allowed on demand, or {@code null}; such names are
     *     routed only once {@link #withOnDemand} says which they are
     */
    public DomainTable(List<Domain> domains, Map<String, Platform> platforms, String onDemandPlatform) {
        // sized for the list: 100,000 entries would otherwise rehash a dozen times
        Map<String, Route> exact = new HashMap<>(Math.max(16, (int) (domains.size() / 0.75f) + 1));
        Map<String, Route> wildcards = new HashMap<>();
        for (Domain domain : domains) {
            Platform platform = platforms.get(domain.platform());
            if (platform == null) {
                throw new IllegalArgumentException(
                        "domain " + domain.name() + ": unknown platform " + domain.platform());
            }
            Route route = new Route(domain, platform);
            if (domain.wildcard()) {
                wildcards.putIfAbsent(domain.name().substring(2), route);
            } else {
                exact.putIfAbsent(domain.name(), route);
            }
        }
        this.exact = exact;
        this.wildcardParents = wildcards;
        if (onDemandPlatform != null && !platforms.containsKey(onDemandPlatform)) {
            throw new IllegalArgumentException("on-demand platform " + onDemandPlatform + " is not defined");
        }
        this.onDemandPlatform = onDemandPlatform == null ? null : platforms.get(onDemandPlatform);
        this.allowedOnDemand = name -> false;
    }

    private DomainTable(DomainTable table, Predicate<String> allowedOnDemand) {
        this.exact = table.exact;
        this.wildcardParents = table.wildcardParents;
        this.onDemandPlatform = table.onDemandPlatform;
        this.allowedOnDemand = allowedOnDemand;
    }

    public static DomainTable of(ClickTlsConfig config) {
        OnDemand onDemand =
                config.certificates() == null ? null : config.certificates().onDemand();
        return new DomainTable(config.domains(), config.platforms(), onDemand == null ? null : onDemand.platform());
    }

    /**
     * The same table, routing to the on-demand platform the names that match no entry and pass {@code allowed}
     * (given a normalized name; typically "the resolver holds a certificate for it, or the policy remembers allowing
     * it"). {@code allowed} runs on event loops: memory only, no I/O, and it must not call back into {@link #find}.
     */
    public DomainTable withOnDemand(Predicate<String> allowed) {
        return new DomainTable(this, allowed);
    }

    /**
     * The route for a host name as sent in SNI or Host (without port), ignoring case and one trailing dot: a
     * {@code domains} entry, else the on-demand platform for a name allowed on demand.
     */
    public Optional<Route> find(String host) {
        if (host == null || host.isEmpty()) {
            return Optional.empty();
        }
        String name = HostNames.normalize(host);
        Route route = configuredRoute(name);
        if (route == null && onDemandPlatform != null && allowedOnDemand.test(name)) {
            route = new Route(new Domain(name, onDemandPlatform.name()), onDemandPlatform);
        }
        return Optional.ofNullable(route);
    }

    public boolean serves(String host) {
        return find(host).isPresent();
    }

    /** Whether a {@code domains} entry matches the host name (the on-demand platform left aside). */
    public boolean configured(String host) {
        return host != null && !host.isEmpty() && configuredRoute(HostNames.normalize(host)) != null;
    }

    /** The platform for names allowed on demand, if the config has one. */
    public Optional<Platform> onDemandPlatform() {
        return Optional.ofNullable(onDemandPlatform);
    }

    private Route configuredRoute(String name) {
        Route route = exact.get(name);
        if (route != null) {
            return route;
        }
        int dot = name.indexOf('.');
        return dot <= 0 ? null : wildcardParents.get(name.substring(dot + 1));
    }

    public int size() {
        return exact.size() + wildcardParents.size();
    }
}
