package io.clicktls.config;

import java.util.Map;

/**
 * What a {@code domains} entry or a platform may set for its domains: {@code upgrade} and {@code well_known}. A
 * domain's options already include its platform's (the reader merges them); a domain that sets nothing has
 * {@link #NONE} and takes its platform's through {@link DomainTable.Route#options()}.
 *
 * @param upgrade the upgrade settings, the top-level {@code upgrade:} with this entry's keys laid over it, or
 *     {@code null} when neither the entry nor its platform sets any
 * @param wellKnown the files by full request path ({@code /.well-known/assetlinks.json})
 */
public record DomainOptions(Upgrade upgrade, Map<String, WellKnownFile> wellKnown) {

    public static final DomainOptions NONE = new DomainOptions(null, Map.of());

    public DomainOptions {
        wellKnown = Map.copyOf(wellKnown);
    }

    /** Whether this sets nothing. */
    public boolean isEmpty() {
        return upgrade == null && wellKnown.isEmpty();
    }

    /** This entry's upgrade settings, or {@code topLevel} when it sets none. */
    public Upgrade upgradeOr(Upgrade topLevel) {
        return upgrade != null ? upgrade : topLevel;
    }

    /** The file served at {@code path} (a path without query), or {@code null}. */
    public WellKnownFile wellKnown(String path) {
        return wellKnown.isEmpty() ? null : wellKnown.get(path);
    }
}
