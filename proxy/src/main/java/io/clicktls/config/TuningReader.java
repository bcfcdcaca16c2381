package io.clicktls.config;

import java.util.List;

/** {@code tuning:} the transport, the event loops and the status page's DNS server. */
final class TuningReader {

    private static final List<String> KEYS = List.of("transport", "event_loops", "dns_server");
    /** Far more event loops than cores only adds context switches. */
    private static final int MAX_EVENT_LOOPS = 1024;

    private TuningReader() {}

    static Tuning read(Section tuning) {
        tuning.allowOnly(KEYS);
        Tuning defaults = Tuning.DEFAULTS;
        Endpoint dnsServer = tuning.dnsServer("dns_server");
        return new Tuning(
                tuning.choice("transport", defaults.transport(), Tuning.TransportKind.class),
                tuning.wholeNumber(
                        "event_loops",
                        0,
                        MAX_EVENT_LOOPS,
                        "0 for one per core, or a whole number from 1 to " + MAX_EVENT_LOOPS,
                        defaults.eventLoops()),
                dnsServer != null ? dnsServer : defaults.dnsServer());
    }
}
