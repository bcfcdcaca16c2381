package io.clicktls.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.socket.DuplexChannel;
import io.netty.util.ReferenceCountUtil;

/**
 * Ends a client connection without losing what was sent last: a GOAWAY, an error page, a TLS alert. A socket closed
 * while the client's input is still arriving or unread is reset by the kernel instead of ended, and the reset makes
 * the client's side drop what it has not read yet, the answer that says why included: the client sees "connection
 * reset". So every close that reaches the socket end of the pipeline (ours, HTTP/2's after its GOAWAY, TLS's after
 * its close_notify) becomes a lingering close, as nginx's {@code lingering_close}: once everything written has left,
 * the output is shut down (FIN), and the input is read and dropped until the client ends its side too; then the
 * connection is closed. A client that keeps sending is not read past {@link ProxySettings#CLOSE_LINGER_BYTES} and is
 * cut off {@link ProxySettings#CLOSE_LINGER_TIME} after the close began, whatever it does; until then the connection
 * still counts against the connection limits.
 *
 * <p>Closed at once: a connection whose output is already shut down, one that cannot be half-closed (not a socket),
 * and every connection once its listener is closed (the server is stopping and waits for its clients' closes; one
 * already lingering over TLS ends at its deadline, as TLS holds a second close until the first is done).
 *
 * <p>First in every client pipeline, so that the closes of every handler pass it; the handler that drops the input
 * is added in front of it only when a close begins, so that reads cost nothing until then. Sharable: the state of a
 * connection is that handler's presence. Runs on the connection's event loop; does not block.
 */
@ChannelHandler.Sharable
final class LingeringClose extends ChannelOutboundHandlerAdapter {

    static final String NAME = "lingering-close";
    private static final String DROPPED_INPUT = "lingering-input";

    private final long lingerMillis = ProxySettings.CLOSE_LINGER_TIME.toMillis();
    private final long lingerBytes = ProxySettings.CLOSE_LINGER_BYTES;

    @Override
    public void close(ChannelHandlerContext ctx, ChannelPromise promise) {
        Channel channel = ctx.channel();
        boolean lingering = ctx.pipeline().get(DROPPED_INPUT) != null;
        if (serverStopping(channel)) {
            ctx.close(promise);
            return;
        }
        if (lingering) {
            // A second close (a timer, a write that failed on the shut output): the lingering one ends it.
            channel.closeFuture().addListener(closed -> promise.trySuccess());
            return;
        }
        if (!(channel instanceof DuplexChannel duplex) || !channel.isActive() || duplex.isOutputShutdown()) {
            ctx.close(promise);
            return;
        }
        channel.closeFuture().addListener(closed -> promise.trySuccess());
        ctx.pipeline().addFirst(DROPPED_INPUT, new DroppedInput(lingerMillis, lingerBytes));
        // Completes once everything written before it has left (writes complete in order): only then is the output
        // shut down, which would fail what is still queued. On failure the connection is closed from here, towards
        // the socket: a real close, not another lingering one.
        ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(written -> {
            if (written.isSuccess()) {
                duplex.shutdownOutput().addListener(shut -> {
                    if (!shut.isSuccess()) {
                        ctx.close();
                    }
                });
            } else {
                ctx.close();
            }
        });
    }

    private static boolean serverStopping(Channel channel) {
        Channel listener = channel.parent();
        return listener != null && !listener.isOpen();
    }

    /**
     * Reads and drops a closing connection's input, up to a number of bytes, and closes it when the client has ended
     * its side (Netty closes a socket whose input ends), when reading fails, or at the deadline. Nothing reaches the
     * handlers behind it any more but the connection's end ({@code channelInactive}). Runs on the event loop.
     */
    private static final class DroppedInput extends ChannelInboundHandlerAdapter {

        private final long lingerMillis;
        private long bytesLeft;
        private Deadline deadline;

        DroppedInput(long lingerMillis, long lingerBytes) {
            this.lingerMillis = lingerMillis;
            this.bytesLeft = lingerBytes;
        }

        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            // Closed from here, at the head of the pipeline: a real close, not another lingering one.
            deadline = new Deadline(ctx.executor(), ctx::close);
            deadline.expireIn(lingerMillis);
            // Client pipelines read on request only (auto-read is off): ask, or the client's end is never seen.
            ctx.read();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof ByteBuf bytes) {
                bytesLeft -= bytes.readableBytes();
            }
            ReferenceCountUtil.release(msg);
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            // Past the bytes allowed the input is left unread: TCP's flow control stops the client, and the deadline
            // closes the connection.
            if (bytesLeft > 0) {
                ctx.read();
            }
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            ReferenceCountUtil.release(evt);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            // A reset from a client that closed before reading everything: the connection is over either way.
            ctx.close();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            deadline.cancel();
            ctx.fireChannelInactive();
        }
    }
}
