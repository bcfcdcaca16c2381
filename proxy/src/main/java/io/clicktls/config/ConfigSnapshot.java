package io.clicktls.config;

/** One validated config and the runtime tables built from it, swapped as a whole on reload. */
public record ConfigSnapshot(ClickTlsConfig config, DomainTable domains) {

    public static ConfigSnapshot of(ClickTlsConfig config) {
        return new ConfigSnapshot(config, DomainTable.of(config));
    }
}
