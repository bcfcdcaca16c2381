package io.clicktls.config;

import java.util.List;

/** {@code upgrade:} how tracked links are moved from http to https. */
final class UpgradeReader {

    private static final List<String> KEYS = List.of("http", "location", "html");

    private UpgradeReader() {}

    static Upgrade read(Section upgrade) {
        upgrade.allowOnly(KEYS);
        Upgrade defaults = Upgrade.DEFAULTS;
        return new Upgrade(
                upgrade.choice("http", defaults.http(), Upgrade.HttpMode.class),
                upgrade.bool("location", defaults.location()),
                upgrade.bool("html", defaults.html()));
    }
}
