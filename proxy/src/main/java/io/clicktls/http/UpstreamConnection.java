package io.clicktls.http;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpObject;
import io.netty.util.ReferenceCountUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One connection to an upstream, and the last handler of its pipeline. While lent to an exchange it passes every
 * event to that exchange's {@link Listener}; while idle in the pool it closes the connection on any traffic, and
 * tells the pool when the upstream closed it. Runs on the connection's event loop; must not block.
 */
final class UpstreamConnection extends ChannelInboundHandlerAdapter {

    private static final Logger log = LoggerFactory.getLogger(UpstreamConnection.class);

    /** The exchange using the connection. Called on the connection's event loop. */
    interface Listener {
        void upstreamRead(HttpObject message);

        /** The read that brought the last messages is over: time to flush what they caused. */
        void upstreamReadComplete();

        void upstreamWritabilityChanged();

        /** The connection closed or failed; it is not usable any more. */
        void upstreamClosed(Throwable cause);
    }

    private final Channel channel;
    private final UpstreamKey key;
    private final UpstreamPool pool;
    private final Deadline idleTimer;
    private Listener listener;
    private long keepAliveHintSeconds = -1;
    /** A read asked for and not yet begun: asking again would only walk the pipeline for nothing. */
    private boolean readRequested;

    UpstreamConnection(Channel channel, UpstreamKey key, UpstreamPool pool) {
        this.channel = channel;
        this.key = key;
        this.pool = pool;
        // Closing it is enough: channelInactive tells the pool to forget it.
        this.idleTimer = new Deadline(channel.eventLoop(), channel::close);
    }

    Channel channel() {
        return channel;
    }

    UpstreamKey key() {
        return key;
    }

    /**
     * Asks for the next read unless one is already asked for (auto-read is off on upstream connections). On the
     * event loop.
     */
    void read() {
        if (!readRequested) {
            readRequested = true;
            channel.read();
        }
    }

    void bind(Listener listener) {
        this.listener = listener;
    }

    void unbind() {
        this.listener = null;
    }

    /** What the upstream said about its keep-alive timeout in its last response, or -1. */
    long keepAliveHintSeconds() {
        return keepAliveHintSeconds;
    }

    void keepAliveHintSeconds(long seconds) {
        this.keepAliveHintSeconds = seconds;
    }

    /** Closes the connection unless it is taken from the pool within {@code millis}. On the event loop. */
    void startIdleTimer(long millis) {
        idleTimer.expireIn(millis);
    }

    void stopIdleTimer() {
        idleTimer.clear();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        readRequested = false;
        Listener current = listener;
        if (current != null && msg instanceof HttpObject httpObject) {
            current.upstreamRead(httpObject);
            return;
        }
        // Nothing may arrive on an idle connection: whatever it is, the connection is out of step.
        ReferenceCountUtil.release(msg);
        log.debug("unexpected data from idle upstream {}; closing", key);
        ctx.close();
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        readRequested = false;
        Listener current = listener;
        if (current != null) {
            current.upstreamReadComplete();
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        Listener current = listener;
        if (current != null) {
            current.upstreamWritabilityChanged();
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        idleTimer.cancel();
        Listener current = listener;
        listener = null;
        if (current != null) {
            current.upstreamClosed(null);
        } else {
            pool.forget(this);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.debug("upstream {} failed", key, cause);
        Listener current = listener;
        listener = null;
        if (current != null) {
            current.upstreamClosed(cause);
        }
        ctx.close();
    }
}
