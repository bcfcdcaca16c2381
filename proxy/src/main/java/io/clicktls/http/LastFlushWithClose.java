package io.clicktls.http;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;

/**
 * Sits between the socket and TLS so that a last response and TLS's close_notify alert leave in one system call:
 * {@link #flushThenClose} lets TLS encrypt what is pending but holds the socket flush back, then closes, and the
 * close flushes the response together with the alert. (Closing with the response still unencrypted would lose it:
 * the engine stops taking application data once its outbound side is closed.) The close then reaches
 * {@link LingeringClose}, which sends the FIN only once both have left.
 *
 * <p>One per client connection; runs on its event loop and must not block.
 */
final class LastFlushWithClose extends ChannelOutboundHandlerAdapter {

    private boolean holding;

    /** Flushes and closes the channel of {@code from}, a context later in the same pipeline. On the event loop. */
    void flushThenClose(ChannelHandlerContext from) {
        holding = true;
        try {
            from.flush();
        } finally {
            holding = false;
        }
        from.close();
    }

    @Override
    public void flush(ChannelHandlerContext ctx) {
        if (!holding) {
            ctx.flush();
        }
    }
}
