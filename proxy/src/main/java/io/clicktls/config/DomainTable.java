package io.clicktls.config;

import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Maps a host name to its tracked-domain entry and platform: exact names first, then a one-label wildcard.
 * Immutable and safe to share between threads; lookups cost two hash probes and allocate only the lower-cased
 * name when the input is not lower case already.
 */
public final class DomainTable {

    /** A served host name's domain entry and the platform it forwards to. */
    public record Route(Domain domain, Platform platform) {}

    private final Map<String, Route> exact;
    private final Map<String, Route> wildcardParents;

    public DomainTable(List<Domain> domains, Map<String, Platform> platforms) {
        Map<String, Route> exact = new HashMap<>();
        Map<String, Route> wildcards = new HashMap<>();
        for (Domain domain : domains) {
            Platform platform = platforms.get(domain.platform());
            if (platform == null) {
                throw new IllegalArgumentException("domain " + domain.name() + ": unknown platform " + domain.platform());
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
    }

    public static DomainTable of(ClickTlsConfig config) {
        return new DomainTable(config.domains(), config.platforms());
    }

    /**
     * The route for a host name as sent in SNI or Host (without port), ignoring case and one trailing dot.
     */
    public Optional<Route> find(String host) {
        if (host == null || host.isEmpty()) {
            return Optional.empty();
        }
        String name = normalize(host);
        Route route = exact.get(name);
        if (route != null) {
            return Optional.of(route);
        }
        int dot = name.indexOf('.');
        if (dot <= 0) {
            return Optional.empty();
        }
        return Optional.ofNullable(wildcardParents.get(name.substring(dot + 1)));
    }

    public boolean serves(String host) {
        return find(host).isPresent();
    }

    public int size() {
        return exact.size() + wildcardParents.size();
    }

    /** Lower case, without one trailing dot. */
    public static String normalize(String host) {
        String name = host.endsWith(".") ? host.substring(0, host.length() - 1) : host;
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (c >= 'A' && c <= 'Z') {
                return name.toLowerCase(Locale.ROOT);
            }
        }
        return name;
    }
}
