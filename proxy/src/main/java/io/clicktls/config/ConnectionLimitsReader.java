package io.clicktls.config;

import java.util.List;

/** {@code limits:} client connections open at once, on the https and http listeners together and per client. */
final class ConnectionLimitsReader {

    private static final List<String> KEYS = List.of("max_connections", "max_connections_per_client");

    private ConnectionLimitsReader() {}

    static ConnectionLimits read(Section limits) {
        limits.allowOnly(KEYS);
        ConnectionLimits defaults = ConnectionLimits.DEFAULTS;
        return new ConnectionLimits(
                limits.countOrWord("max_connections", "auto", ConnectionLimits.AUTO, defaults.maxConnections()),
                limits.countOrWord(
                        "max_connections_per_client", "off", ConnectionLimits.OFF, defaults.maxConnectionsPerClient()));
    }
}
