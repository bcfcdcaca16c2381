package io.clicktls.http;

import io.clicktls.config.ConnectionLimits;
import io.clicktls.metrics.Metrics;
import io.clicktls.tls.ClientAddress;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the https and http listeners below the process's file descriptor limit, and one client address below its
 * share, so that a flood of connections cannot take the descriptors that upstream connections, storage and the admin
 * listener need ({@code limits:} in the config, read per connection so that a reload applies to the next one).
 *
 * <ul>
 *   <li>{@code max_connections}: client connections on both listeners together. When the count reaches it, every
 *       listening socket stops accepting (auto-read off): new connections wait in the kernel's accept queue, and
 *       accepting resumes as soon as a connection closes. The default ({@code auto}) is
 *       {@link #derivedMaxConnections}: half of the descriptors left after a reserve.</li>
 *   <li>{@code max_connections_per_client}: connections from one client address ({@link ClientAddress}: behind a
 *       load balancer, the one its PROXY protocol header names); one over it is closed at once.</li>
 * </ul>
 *
 * Failed accepts (out of descriptors in spite of the limit, e.g. while upstream connections pile up) pause the
 * listening socket for {@link #ACCEPT_BACKOFF} and are logged as one line per {@link ClientErrorLog#INTERVAL}, without
 * a stack trace; Netty would log one with a stack trace every second.
 *
 * <p>Thread-safe: {@link #admit} runs on the event loop of each new connection, the close listeners on theirs; both
 * are lock-free until the limit is reached, then pausing and resuming take this object's lock (briefly: no I/O).
 * Pausing and resuming a listening socket is safe from any thread: Netty hands the change to the socket's own loop.
 */
final class ConnectionLimiter {

    static final String HTTPS = "https";
    static final String HTTP = "http";
    /**
     * The least number of descriptors kept for everything but client and upstream connections: the JVM's own (jars,
     * three per event loop, two listening sockets per event loop), storage files, the admin listener and its
     * connections, DNS sockets, the ask endpoint. A node on 2 cores uses 36 once started.
     */
    static final int MIN_RESERVED_DESCRIPTORS = 256;
    /** How long a listening socket waits after a failed accept. */
    static final Duration ACCEPT_BACKOFF = Duration.ofMillis(500);
    /** When the descriptor limit cannot be read (not a Unix JVM). */
    static final int FALLBACK_MAX_CONNECTIONS = 10_000;

    private static final Logger log = LoggerFactory.getLogger(ConnectionLimiter.class);
    private static final String MAX = "max_connections";
    private static final String PER_CLIENT = "max_connections_per_client";

    private final Supplier<ConnectionLimits> limits;
    private final Metrics metrics;
    private final int derivedMax;
    private final AtomicInteger open = new AtomicInteger();
    /** Only for connections admitted while the per-client limit was on; an entry is removed at 0. */
    private final ConcurrentMap<InetAddress, Integer> perClient = new ConcurrentHashMap<>();

    private final List<Channel> listeners = new CopyOnWriteArrayList<>();
    private final Set<Channel> backingOff = ConcurrentHashMap.newKeySet();
    private final AtomicBoolean full = new AtomicBoolean();
    private final RateLimitedLog lines = new RateLimitedLog(ClientErrorLog.INTERVAL);
    private final ChannelHandler acceptErrors = new AcceptErrors();

    /**
     * @param limits read per new connection: the live config's
     * @param descriptorLimit the process's descriptor limit, or -1 when unknown
     */
    ConnectionLimiter(Supplier<ConnectionLimits> limits, Metrics metrics, long descriptorLimit) {
        this.limits = limits;
        this.metrics = metrics;
        this.derivedMax = derivedMaxConnections(descriptorLimit);
        metrics.connectionLimitGauge(this::maxConnections);
    }

    /**
     * The default of {@code limits.max_connections}: {@code (descriptors - reserve) / 2} with {@code reserve =
     * max(256, descriptors / 16)}, and at least 16. Half, because a client connection with a request in flight holds
     * an upstream connection too (and idle upstream connections are pooled); the reserve stays for the JVM, storage,
     * the admin listener and DNS. With the usual limits: 1,024 gives 384; 65,536 gives 30,720; 1,048,576 gives
     * 491,520.
     */
    static int derivedMaxConnections(long descriptorLimit) {
        if (descriptorLimit <= 0) {
            return FALLBACK_MAX_CONNECTIONS;
        }
        long reserve = Math.max(MIN_RESERVED_DESCRIPTORS, descriptorLimit / 16);
        long max = (descriptorLimit - reserve) / 2;
        return (int) Math.max(16, Math.min(max, Integer.MAX_VALUE));
    }

    /** This process's descriptor limit ({@code ulimit -n}), or -1 when the JVM does not say. */
    static long processDescriptorLimit() {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.UnixOperatingSystemMXBean os) {
            return os.getMaxFileDescriptorCount();
        }
        return -1;
    }

    /** The limit in force: {@code limits.max_connections}, or the one derived from the descriptor limit. */
    int maxConnections() {
        int configured = limits.get().maxConnections();
        return configured == ConnectionLimits.AUTO ? derivedMax : configured;
    }

    /** What {@code max_connections: auto} stands for in this process. */
    int derivedMaxConnections() {
        return derivedMax;
    }

    /** Client connections open on both listeners. */
    int open() {
        return open.get();
    }

    /** For {@code ServerBootstrap.handler}: on each listening socket, handles failed accepts. Sharable. */
    ChannelHandler acceptErrors() {
        return acceptErrors;
    }

    /** A listening socket to pause at the limit. */
    synchronized void listening(Channel listener) {
        listeners.add(listener);
        if (full.get()) {
            listener.config().setAutoRead(false);
        }
    }

    void closed(Channel listener) {
        listeners.remove(listener);
        backingOff.remove(listener);
    }

    /**
     * Counts a new connection, or closes it at once when it is over a limit. Called first thing in the channel
     * initializer, on the connection's event loop.
     *
     * @param clientLater the client is not known yet (a PROXY protocol header will name it): the per-client limit is
     *     left to {@link #admitClient}, once it is
     * @return whether the connection may be served; when not, it is closed and nothing more is to be added
     */
    boolean admit(Channel ch, String listener, boolean clientLater) {
        ConnectionLimits now = limits.get();
        int max = now.maxConnections() == ConnectionLimits.AUTO ? derivedMax : now.maxConnections();
        int count = open.incrementAndGet();
        if (count >= max) {
            pause(max);
        }
        if (count > max) {
            // accepted by another listening socket before the pause reached it
            release(null);
            refuse(ch, MAX, max);
            return false;
        }
        InetAddress client = !clientLater && now.perClientLimited() ? ClientAddress.ip(ch) : null;
        if (client != null && !countClient(client, now)) {
            release(client);
            refuse(ch, PER_CLIENT, now.maxConnectionsPerClient());
            return false;
        }
        metrics.connectionOpened(listener);
        ch.closeFuture().addListener(closed -> {
            metrics.connectionClosed(listener);
            release(client);
        });
        return true;
    }

    /**
     * The per-client limit for a connection {@link #admit admitted} with the client still unknown, now that its PROXY
     * protocol header named it; on the connection's event loop.
     *
     * @return whether the connection may be served; when not, it is closed
     */
    boolean admitClient(Channel ch) {
        ConnectionLimits now = limits.get();
        InetAddress client = now.perClientLimited() ? ClientAddress.ip(ch) : null;
        if (client == null) {
            return true;
        }
        if (!countClient(client, now)) {
            releaseClient(client);
            refuse(ch, PER_CLIENT, now.maxConnectionsPerClient());
            return false;
        }
        ch.closeFuture().addListener(closed -> releaseClient(client));
        return true;
    }

    /** Counts a connection of {@code client}: whether it is within the limit (it is counted either way). */
    private boolean countClient(InetAddress client, ConnectionLimits now) {
        return perClient.merge(client, 1, Integer::sum) <= now.maxConnectionsPerClient();
    }

    private void releaseClient(InetAddress client) {
        if (client != null) {
            perClient.computeIfPresent(client, (address, count) -> count <= 1 ? null : count - 1);
        }
    }

    private void release(InetAddress client) {
        releaseClient(client);
        open.decrementAndGet();
        resumeIfRoom();
    }

    /**
     * Pausing and resuming take the lock, so that a pause and a resume racing cannot leave the sockets paused with
     * {@code full} unset (nobody would resume them); a close only reads {@code full} unless the limit was reached.
     */
    private void resumeIfRoom() {
        if (!full.get()) {
            return;
        }
        synchronized (this) {
            if (full.get() && open.get() < maxConnections()) {
                full.set(false);
                for (Channel listener : listeners) {
                    if (!backingOff.contains(listener)) {
                        listener.config().setAutoRead(true);
                    }
                }
            }
        }
    }

    private void pause(int max) {
        synchronized (this) {
            if (full.get()) {
                return;
            }
            full.set(true);
            for (Channel listener : listeners) {
                listener.config().setAutoRead(false);
            }
        }
        long suppressed = lines.admit("pause");
        if (suppressed != RateLimitedLog.SUPPRESS) {
            log.warn(
                    "{} client connections open: limits.max_connections reached; accepting again when one closes{}",
                    max,
                    RateLimitedLog.suppressedNote(suppressed));
        }
        resumeIfRoom(); // a connection that closed before `full` was set saw no pause to end
    }

    private void refuse(Channel ch, String reason, int limit) {
        metrics.connectionRefused(reason);
        long suppressed = lines.admit(reason);
        if (suppressed != RateLimitedLog.SUPPRESS) {
            log.warn(
                    "closed a new connection from {} at once: limits.{} ({}) reached{}",
                    ClientAddress.forLog(ch),
                    reason,
                    limit,
                    RateLimitedLog.suppressedNote(suppressed));
        }
        ch.close();
    }

    private void backOff(Channel listener) {
        synchronized (this) {
            backingOff.add(listener);
            listener.config().setAutoRead(false);
        }
        listener.eventLoop().schedule(() -> endBackOff(listener), ACCEPT_BACKOFF.toMillis(), TimeUnit.MILLISECONDS);
    }

    private synchronized void endBackOff(Channel listener) {
        backingOff.remove(listener);
        if (!full.get() && listener.isOpen()) {
            listener.config().setAutoRead(true);
        }
    }

    /**
     * First on each listening socket's pipeline, before Netty's acceptor: a failed accept stops here, so that the
     * acceptor's own pause (one second) and its stack trace at the end of the pipeline do not happen.
     */
    @ChannelHandler.Sharable
    private final class AcceptErrors extends ChannelInboundHandlerAdapter {

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            boolean descriptors = cause instanceof IOException
                    && cause.getMessage() != null
                    && cause.getMessage().contains("Too many open files");
            String reason = descriptors ? "out_of_descriptors" : "other";
            metrics.acceptError(reason);
            long suppressed = lines.admit("accept_" + reason);
            if (suppressed != RateLimitedLog.SUPPRESS) {
                log.warn(
                        "cannot accept connections on {}: {} ({} client connections open, limit {}); trying again in"
                                + " {} ms{}",
                        ctx.channel().localAddress(),
                        ClientErrorLog.message(cause),
                        open.get(),
                        maxConnections(),
                        ACCEPT_BACKOFF.toMillis(),
                        RateLimitedLog.suppressedNote(suppressed));
            }
            backOff(ctx.channel());
        }
    }
}
