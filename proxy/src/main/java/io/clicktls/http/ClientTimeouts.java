package io.clicktls.http;

import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.LastHttpContent;
import java.time.Duration;

/** Deadlines on client connections, so that idle or slow clients do not hold connections forever. */
final class ClientTimeouts {

    private ClientTimeouts() {}

    /** Closes a connection that has neither read nor written anything for the given time. */
    static IdleConnection idleConnection(Duration idle) {
        return new IdleConnection(idle);
    }

    /**
     * A handler with one deadline, set when it is added; cancelled when it is removed or the channel closes. Runs on
     * the event loop.
     */
    private abstract static class WithDeadline extends ChannelDuplexHandler {

        Deadline deadline;

        @Override
        public void handlerRemoved(ChannelHandlerContext ctx) {
            deadline.cancel();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            deadline.cancel();
            ctx.fireChannelInactive();
        }
    }

    /**
     * Closes a connection without reads or writes for a while. Unlike Netty's {@code IdleStateHandler} it counts a
     * write when it is made rather than when it completes, so it needs no listener on each write's promise (writes
     * stay void) and no rescheduled task per event; writes are only made while the client reads (backpressure), so
     * a client that stops reading still goes idle. Runs on the event loop.
     */
    static final class IdleConnection extends WithDeadline {

        private final long idleMillis;

        IdleConnection(Duration idle) {
            this.idleMillis = idle.toMillis();
        }

        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            deadline = new Deadline(ctx.executor(), () -> {
                // From the tail, so that an HTTP/2 codec further up says goodbye (GOAWAY) before the close.
                ctx.channel().close();
            });
            deadline.expireIn(idleMillis);
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            deadline.expireIn(idleMillis);
            ctx.fireChannelRead(msg);
        }

        @Override
        public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
            deadline.expireIn(idleMillis);
            ctx.write(msg, promise);
        }
    }

    /**
     * Closes an HTTP/1.1 connection whose next request's headers do not arrive in time: {@code first} for the first
     * request of a connection, {@code next} (the keep-alive idle time) after each response. Sits right after the
     * codec. Runs on the event loop.
     */
    static final class RequestHeaders extends WithDeadline {

        private final long firstMillis;
        private final long nextMillis;
        private long requests;
        private long responses;
        private boolean informational;

        RequestHeaders(Duration first, Duration next) {
            this.firstMillis = first.toMillis();
            this.nextMillis = next.toMillis();
        }

        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            deadline = new Deadline(ctx.executor(), () -> ctx.channel().close());
            deadline.expireIn(firstMillis);
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof HttpRequest) {
                requests++;
                deadline.clear();
            }
            ctx.fireChannelRead(msg);
        }

        @Override
        public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
            if (msg instanceof HttpResponse response) {
                informational = response.status().codeClass() == HttpStatusClass.INFORMATIONAL;
            }
            if (msg instanceof LastHttpContent && !informational) {
                responses++;
                // Pipelined requests already read are being answered: only an empty queue waits on the client.
                if (responses >= requests) {
                    deadline.expireIn(nextMillis);
                }
            }
            ctx.write(msg, promise);
        }
    }
}
