package io.clicktls.http;

import io.clicktls.config.ConfigSnapshot;
import io.clicktls.metrics.Metrics;
import io.netty.channel.ChannelDuplexHandler;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * Upgrades tracked links in responses from http to https: {@code Location} headers and {@code text/html} bodies.
 * Sits on the client-facing channel (HTTP/1.1 connection or h2 stream child channel) between the HTTP codec and
 * the proxy handler: it reads each {@code HttpRequest} to learn the request's host, and rewrites the
 * {@code HttpResponse}/{@code HttpContent} objects written back. Runs on the channel's event loop; must not block.
 *
 * <p>STUB: passes everything through until the real implementation lands.
 */
public final class LinkUpgradeHandler extends ChannelDuplexHandler {

    /**
     * @param config the live config ({@code upgrade.location}, {@code upgrade.html}, the domain table)
     * @param httpsReady whether a host name may be linked over https: a tracked domain whose certificate is in hand
     *     (non-blocking, called on the event loop)
     */
    public LinkUpgradeHandler(Supplier<ConfigSnapshot> config, Predicate<String> httpsReady, Metrics metrics) {}
}
