package io.clicktls.config;

import java.util.List;

/** {@code listen:} the https, http and admin listeners. */
final class ListenReader {

    private static final List<String> KEYS = List.of("https", "http", "admin");

    private ListenReader() {}

    static Listen read(Section listen) {
        listen.allowOnly(KEYS);
        Listen defaults = Listen.DEFAULTS;
        return new Listen(
                listen.endpoint("https", defaults.https()),
                listen.endpoint("http", defaults.http()),
                listen.endpoint("admin", defaults.admin()));
    }
}
