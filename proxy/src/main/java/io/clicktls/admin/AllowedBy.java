package io.clicktls.admin;

import io.clicktls.config.ConfigSnapshot;
import io.clicktls.config.DomainTable;
import io.clicktls.config.OnDemand;
import java.util.Locale;
import java.util.Optional;

/**
 * What in this node's config allows a name to have a certificate: a {@code domains} entry (the name itself, or the
 * {@code *.} pattern it falls under) or, for a name no entry matches, the {@code ask} endpoint. Shown on every row, so
 * that a name another node of a cluster is ordering, under a wildcard or allowed by {@code ask} and listed nowhere,
 * says where it comes from.
 *
 * @param entry the matching {@code domains} entry ({@link Kind#EXACT}: the name; {@link Kind#WILDCARD}: the pattern),
 *     or {@code null} for {@link Kind#ASK}
 */
public record AllowedBy(Kind kind, String entry) {

    /** Lower case on the wire. */
    public enum Kind {
        /** A {@code domains} entry names it. */
        EXACT,
        /** It falls under a {@code *.} entry of {@code domains}. */
        WILDCARD,
        /** No entry matches; {@code certificates.on_demand.ask} decides (on each node, on its own). */
        ASK;

        public String wireName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** What allows {@code name} under {@code config}; empty when nothing does (no entry matches and no {@code ask}). */
    static Optional<AllowedBy> of(String name, ConfigSnapshot config) {
        DomainTable domains = config.domains();
        if (domains.configured(name)) {
            return domains.find(name)
                    .map(route -> route.domain().wildcard()
                            ? new AllowedBy(Kind.WILDCARD, route.domain().name())
                            : new AllowedBy(Kind.EXACT, route.domain().name()));
        }
        OnDemand onDemand = config.config().certificates() == null
                ? null
                : config.config().certificates().onDemand();
        return onDemand != null && onDemand.ask() != null
                ? Optional.of(new AllowedBy(Kind.ASK, null))
                : Optional.empty();
    }

    /** "under *.shop.com", "allowed by ask": the few words a status row shows. */
    String describe() {
        return switch (kind) {
            case EXACT -> "listed";
            case WILDCARD -> "under " + entry;
            case ASK -> "allowed by ask";
        };
    }
}
