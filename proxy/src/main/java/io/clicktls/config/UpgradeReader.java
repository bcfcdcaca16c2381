package io.clicktls.config;

import java.util.List;

/**
 * {@code upgrade:} how tracked links are moved from http to https; the same keys under a platform or a
 * {@code domains} entry override it for those domains.
 */
final class UpgradeReader {

    private static final List<String> KEYS = List.of("http", "location", "html");

    private UpgradeReader() {}

    /** @param defaults what a key left out stays at: {@link Upgrade#DEFAULTS}, or the settings this one overrides */
    static Upgrade read(Section upgrade, Upgrade defaults) {
        upgrade.allowOnly(KEYS);
        return new Upgrade(
                upgrade.choice("http", defaults.http(), Upgrade.HttpMode.class),
                upgrade.bool("location", defaults.location()),
                upgrade.bool("html", defaults.html()));
    }
}
