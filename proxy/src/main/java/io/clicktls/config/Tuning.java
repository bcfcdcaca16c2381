package io.clicktls.config;

/**
 * Runtime settings of the node itself ({@code tuning:} in the file). All of them are read once at start: a reload
 * that changes one logs that it applies at restart.
 *
 * @param transport which Netty transport carries the connections
 * @param eventLoops how many worker event loops serve connections; 0 for one per available core
 * @param dnsServer the DNS server the status page's DNS column asks, or {@code null} for
 *     {@code certificates.on_demand.dns_server}, else the system's resolvers (for split-horizon networks, where
 *     the operator's view of DNS differs from the one on-demand issuance checks)
 */
public record Tuning(TransportKind transport, int eventLoops, Endpoint dnsServer) {

    /** What a file without {@code tuning:} runs with. */
    public static final Tuning DEFAULTS = new Tuning(TransportKind.AUTO, 0, null);

    public enum TransportKind {
        /** Native epoll where it loads, else NIO. */
        AUTO,
        /** Native epoll (Linux); falls back to NIO, with a warning, where it does not load. */
        EPOLL,
        /** Native io_uring (Linux 5.10+); falls back to epoll, then NIO, where it does not load. */
        IO_URING,
        /** The JDK's selector: every platform. */
        NIO
    }
}
