package io.clicktls.config;

import java.util.function.Predicate;

/** One validated config and the runtime tables built from it, swapped as a whole on reload. */
public record ConfigSnapshot(ClickTlsConfig config, DomainTable domains) {

    public static ConfigSnapshot of(ClickTlsConfig config) {
        return new ConfigSnapshot(config, DomainTable.of(config));
    }

    /** @param allowedOnDemand see {@link DomainTable#withOnDemand} */
    public static ConfigSnapshot of(ClickTlsConfig config, Predicate<String> allowedOnDemand) {
        return new ConfigSnapshot(config, DomainTable.of(config).withOnDemand(allowedOnDemand));
    }
}
