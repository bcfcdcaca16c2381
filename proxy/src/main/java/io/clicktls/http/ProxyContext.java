package io.clicktls.http;

import io.clicktls.config.ConfigSnapshot;
import io.clicktls.metrics.Metrics;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * What every {@link ProxyHandler} of one {@link ProxyServer} shares. Thread-safe.
 *
 * @param inFlight exchanges between acquiring an upstream and the end of their response; {@link ProxyServer#close()}
 *     waits for it to reach zero
 * @param linkPorts the listener ports bound so far, for upgrading links; a volatile read
 */
record ProxyContext(
        Supplier<ConfigSnapshot> config,
        UpstreamPool pool,
        Metrics metrics,
        ProxySettings settings,
        AtomicInteger inFlight,
        Supplier<LinkPorts> linkPorts) {}
