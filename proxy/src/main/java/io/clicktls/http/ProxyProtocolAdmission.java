package io.clicktls.http;

import io.clicktls.config.ProxyProtocol;
import io.clicktls.metrics.Metrics;
import io.clicktls.tls.ClientAddress;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.haproxy.HAProxyCommand;
import io.netty.handler.codec.haproxy.HAProxyMessage;
import io.netty.handler.codec.haproxy.HAProxyMessageDecoder;
import io.netty.handler.timeout.ReadTimeoutException;
import io.netty.util.NetUtil;
import io.netty.util.ReferenceCountUtil;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * PROXY protocol (v1 and v2, HAProxy's specification) on the https and http listeners, {@code
 * listen.proxy_protocol.from} in the config, read per new connection:
 *
 * <ul>
 *   <li>off (no {@code from}): every connection is {@link Source#DIRECT}, nothing is read;
 *   <li>a connection from a listed load balancer must begin with a header ({@link Source#BALANCER}): Netty's {@link
 *       HAProxyMessageDecoder} reads it, then {@link ClientAddress#PROXIED} is set to its source, the per-client limit
 *       is applied to that address, and the bytes behind the header go on to TLS or HTTP. A malformed header fails
 *       the decoder (a client error of kind {@code malformed}); none within {@link #HEADER_TIMEOUT} is one of kind
 *       {@code timeout}. A v2 {@code LOCAL} header (a balancer's health check) or a v1 {@code UNKNOWN} one keeps the
 *       balancer's own address;
 *   <li>a connection from any other source is refused: closed at once, counted in
 *       {@code clicktls_connections_refused_total{reason="proxy_protocol"}} and logged at most once per
 *       {@link ClientErrorLog#INTERVAL}. Without this, anyone reaching the listener directly could name any client
 *       address in a header of their own, and a balancer's clients could not be told apart if it sent none.
 * </ul>
 *
 * <p>Thread-safe: {@link #source} and {@link #expectHeader} run on each new connection's event loop; the handler they
 * add belongs to one connection.
 */
final class ProxyProtocolAdmission {

    /** How long a balancer has to send its header once connected (it sends it with the connection's first bytes). */
    static final Duration HEADER_TIMEOUT = Duration.ofSeconds(5);

    static final String DECODER = "proxy-protocol";
    static final String SOURCE = "proxy-source";
    static final String REFUSAL_REASON = "proxy_protocol";

    private static final Logger log = LoggerFactory.getLogger(ProxyProtocolAdmission.class);

    /** Where a new connection comes from. */
    enum Source {
        /** No PROXY protocol configured: the peer is the client. */
        DIRECT,
        /** A listed load balancer: a header is to be read first. */
        BALANCER,
        /** Not a listed load balancer while PROXY protocol is on: closed. */
        REFUSED
    }

    private final Supplier<ProxyProtocol> settings;
    private final Metrics metrics;
    private final RateLimitedLog lines = new RateLimitedLog(ClientErrorLog.INTERVAL);

    /** @param settings read per new connection: the live config's {@code listen.proxy_protocol} */
    ProxyProtocolAdmission(Supplier<ProxyProtocol> settings, Metrics metrics) {
        this.settings = settings;
        this.metrics = metrics;
    }

    /** Judges a new connection by its peer address; closes it when {@link Source#REFUSED}. */
    Source source(Channel ch) {
        ProxyProtocol now = settings.get();
        if (!now.enabled()) {
            return Source.DIRECT;
        }
        InetAddress peer = ch.remoteAddress() instanceof InetSocketAddress inet ? inet.getAddress() : null;
        if (peer != null && now.trusts(peer)) {
            return Source.BALANCER;
        }
        metrics.connectionRefused(REFUSAL_REASON);
        long suppressed = lines.admit(REFUSAL_REASON);
        if (suppressed != RateLimitedLog.SUPPRESS) {
            log.warn(
                    "closed a new connection from {} at once: not in listen.proxy_protocol.from, and only the load"
                            + " balancers listed there may connect{}",
                    ch.remoteAddress(),
                    RateLimitedLog.suppressedNote(suppressed));
        }
        ch.close();
        return Source.REFUSED;
    }

    /** Adds the header's decoder and reader first in {@code p}, for a connection from a {@link Source#BALANCER}. */
    void expectHeader(ChannelPipeline p, ConnectionLimiter limiter) {
        p.addFirst(SOURCE, new HeaderReader(limiter));
        p.addFirst(DECODER, new HAProxyMessageDecoder());
    }

    /**
     * Takes the client's address from the decoded header and then leaves the pipeline, as the decoder does. Runs on
     * the connection's event loop.
     */
    private static final class HeaderReader extends ChannelInboundHandlerAdapter {

        private final ConnectionLimiter limiter;
        private ScheduledFuture<?> timeout;
        private boolean failed;

        HeaderReader(ConnectionLimiter limiter) {
            this.limiter = limiter;
        }

        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            timeout = ctx.executor()
                    .schedule(
                            () -> fail(ctx, ReadTimeoutException.INSTANCE),
                            HEADER_TIMEOUT.toMillis(),
                            TimeUnit.MILLISECONDS);
        }

        @Override
        public void handlerRemoved(ChannelHandlerContext ctx) {
            timeout.cancel(false);
        }

        /**
         * The decoder's failure on a malformed header. Only the first goes on: the decoder fails again on what follows
         * in the same read (a request's next line) while the connection closes, and one client makes one error.
         */
        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            fail(ctx, cause);
        }

        private void fail(ChannelHandlerContext ctx, Throwable cause) {
            if (failed) {
                return;
            }
            failed = true;
            timeout.cancel(false);
            ctx.fireExceptionCaught(cause); // ClientErrorLog, last in the pipeline, counts, logs and closes
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (!(msg instanceof HAProxyMessage header)) {
                // only after a refusal: what came behind the header, which nobody is to read now
                ReferenceCountUtil.release(msg);
                return;
            }
            Channel ch = ctx.channel();
            try {
                InetSocketAddress client = clientOf(header);
                if (client != null) {
                    ch.attr(ClientAddress.PROXIED).set(client);
                }
            } finally {
                header.release();
            }
            timeout.cancel(false);
            if (!limiter.admitClient(ch)) {
                return; // closed; this handler stays to drop the bytes the decoder hands on as it leaves
            }
            ctx.pipeline().remove(this);
            // TLS selection reads nothing until asked when auto-read is off, and the decoder asked for no more once
            // it had the header
            if (!ch.config().isAutoRead()) {
                ch.read();
            }
        }

        /** The client a header names, or {@code null} when it names none (LOCAL, UNKNOWN, a Unix socket). */
        private static InetSocketAddress clientOf(HAProxyMessage header) {
            if (header.command() != HAProxyCommand.PROXY) {
                return null;
            }
            switch (header.proxiedProtocol()) {
                case TCP4, TCP6, UDP4, UDP6 -> {
                    // the decoder has checked the literal; parsing it here never looks anything up
                    InetAddress address = NetUtil.createInetAddressFromIpAddressString(header.sourceAddress());
                    return address == null ? null : new InetSocketAddress(address, header.sourcePort());
                }
                default -> {
                    return null;
                }
            }
        }
    }
}
