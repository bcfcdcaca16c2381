package io.clicktls.config;

import java.net.InetAddress;
import java.util.List;

/**
 * {@code listen.proxy_protocol}: the load balancers in front of the https and http listeners that send a PROXY
 * protocol (v1 or v2) header ahead of each connection. With it, a connection from a listed source must begin with
 * such a header, and one from any other source is refused; without it ({@link #OFF}) no header is read. Read per new
 * connection, so a reload applies to the next one. The admin listener never reads one.
 *
 * @param from the load balancers' addresses; empty: off
 */
public record ProxyProtocol(List<AddressRange> from) {

    public static final ProxyProtocol OFF = new ProxyProtocol(List.of());

    public ProxyProtocol {
        from = List.copyOf(from);
    }

    /** Whether headers are expected at all. */
    public boolean enabled() {
        return !from.isEmpty();
    }

    /** Whether a connection from {@code source} comes from a listed load balancer. */
    public boolean trusts(InetAddress source) {
        for (AddressRange range : from) {
            if (range.contains(source)) {
                return true;
            }
        }
        return false;
    }
}
