package io.clicktls.http;

import java.time.Duration;

/**
 * Limits and timeouts of the listeners and the upstream pool. Immutable; one instance is shared by every handler.
 *
 * @param upstreamConnectTimeout TCP connect plus TLS handshake to an upstream; beyond it the client gets 502
 * @param upstreamResponseTimeout from the request fully sent to the upstream's response headers; beyond it 504
 * @param keepAliveIdle how long a client connection may sit without a request (and without any traffic at all)
 * @param requestHeadersTimeout how long a new client connection has to deliver its first request's headers
 * @param upstreamIdleTimeout how long an unused upstream connection stays in the pool (shortened to the upstream's
 *     own {@code Keep-Alive: timeout} minus one second when it announces one)
 * @param maxIdlePerUpstream idle connections kept per upstream and per event loop
 * @param drainTimeout how long {@link ProxyServer#close()} waits for requests in flight
 */
record ProxySettings(
        Duration upstreamConnectTimeout,
        Duration upstreamResponseTimeout,
        Duration keepAliveIdle,
        Duration requestHeadersTimeout,
        Duration upstreamIdleTimeout,
        int maxIdlePerUpstream,
        Duration drainTimeout) {

    /** Request line limit; a longer line is answered 414. */
    static final int MAX_INITIAL_LINE = 8 * 1024;
    /** Request header block limit; a larger block is answered 431. */
    static final int MAX_HEADER_SIZE = 16 * 1024;
    /** Largest body piece passed on at once, in either direction. */
    static final int MAX_CHUNK_SIZE = 16 * 1024;
    /** Upstream response headers may carry big cookies: allow more than we accept from clients. */
    static final int MAX_UPSTREAM_HEADER_SIZE = 64 * 1024;

    static ProxySettings defaults() {
        return new ProxySettings(
                Duration.ofSeconds(5),
                Duration.ofSeconds(30),
                Duration.ofSeconds(60),
                Duration.ofSeconds(30),
                Duration.ofSeconds(15),
                32,
                Duration.ofSeconds(10));
    }
}
