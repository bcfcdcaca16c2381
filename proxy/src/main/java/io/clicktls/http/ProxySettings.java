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

    /**
     * The HTTP/2 header list size (RFC 9113 section 6.5.2, as HPACK counts it) that Netty's decoder takes in before it
     * answers 431 itself; a block past 1.25 times this ends the connection (GOAWAY), which clients take as "not
     * processed" and retry. It is set well above {@link #MAX_HEADER_SIZE} so that a merely oversized block reaches
     * {@link ProxyHandler}, which answers it with our 431 page; the block is dropped right there, so a stream waiting
     * for its upstream never holds more than {@link #MAX_HEADER_SIZE}.
     */
    static final int H2_MAX_DECODED_HEADER_LIST = 64 * 1024;

    /** HTTP/2 streams a client may have open at once. */
    static final int H2_MAX_CONCURRENT_STREAMS = 128;
    /**
     * The window over which HTTP/2 control frames are counted, per connection; a client sending more of a kind than
     * allowed within one window gets GOAWAY ENHANCE_YOUR_CALM and the connection is closed.
     */
    static final Duration H2_CONTROL_FRAME_WINDOW = Duration.ofSeconds(10);
    /**
     * WINDOW_UPDATE frames per window. A client sends one per stream and one for the connection as it consumes
     * response bodies; 10,000 in 10 s is far above what a click, a pixel or a page needs.
     */
    static final int H2_MAX_WINDOW_UPDATES = 10_000;
    /** SETTINGS frames per window (a client sends one or two per connection). */
    static final int H2_MAX_SETTINGS = 100;
    /** PING frames per window (keep-alive and round-trip probes: a few per connection). */
    static final int H2_MAX_PINGS = 100;
    /** PRIORITY frames per window (deprecated by RFC 9113; some browsers still send a handful per connection). */
    static final int H2_MAX_PRIORITY = 1_000;
    /** RST_STREAM frames a client may send per {@link #H2_RST_WINDOW_SECONDS} (Netty's "rapid reset" guard). */
    static final int H2_MAX_RST_FRAMES = 200;
    /** RST_STREAM frames our side may send per window, for clients that make us reset their streams. */
    static final int H2_MAX_RST_FRAMES_SENT = 200;
    /** The window of the two RST_STREAM limits, in seconds (Netty's unit for them). */
    static final int H2_RST_WINDOW_SECONDS = 30;
    /** DATA frames in a row without payload or END_STREAM (they cost work and move nothing). */
    static final int H2_MAX_CONSECUTIVE_EMPTY_DATA_FRAMES = 2;
    /**
     * Control frames (SETTINGS and PING acknowledgements, RST_STREAM) queued for a client that does not read them;
     * beyond it the connection is closed.
     */
    static final int H2_MAX_QUEUED_CONTROL_FRAMES = 10_000;

    /**
     * How long a connection we end lingers at most (see {@link LingeringClose}): time for the client to read our last
     * words (GOAWAY, an error page, a TLS alert) and end its side before a close that would reset the connection.
     */
    static final Duration CLOSE_LINGER_TIME = Duration.ofSeconds(2);
    /** Input read and dropped at most while a connection lingers; past it the client is left to flow control. */
    static final long CLOSE_LINGER_BYTES = 1024 * 1024;

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
