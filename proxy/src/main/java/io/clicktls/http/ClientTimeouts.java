package io.clicktls.http;

import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import java.time.Duration;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/** Deadlines on client connections, so that idle or slow clients do not hold connections forever. */
final class ClientTimeouts {

    private ClientTimeouts() {}

    /** Closes a connection that has neither read nor written anything for the given time. */
    static IdleStateHandler idleConnection(Duration idle) {
        return new IdleStateHandler(0, 0, idle.toMillis(), TimeUnit.MILLISECONDS) {
            @Override
            protected void channelIdle(ChannelHandlerContext ctx, IdleStateEvent evt) {
                // From the tail, so that an HTTP/2 codec further up says goodbye (GOAWAY) before the close.
                ctx.channel().close();
            }
        };
    }

    /**
     * Closes an HTTP/1.1 connection whose next request's headers do not arrive in time: {@code first} for the first
     * request of a connection, {@code next} (the keep-alive idle time) after each response. Sits right after the
     * codec. Runs on the event loop.
     */
    static final class RequestHeaders extends ChannelDuplexHandler {

        private final long firstMillis;
        private final long nextMillis;
        private ScheduledFuture<?> deadline;
        private long requests;
        private long responses;
        private boolean informational;

        RequestHeaders(Duration first, Duration next) {
            this.firstMillis = first.toMillis();
            this.nextMillis = next.toMillis();
        }

        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            arm(ctx, firstMillis);
        }

        @Override
        public void handlerRemoved(ChannelHandlerContext ctx) {
            disarm();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            disarm();
            ctx.fireChannelInactive();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof HttpRequest) {
                requests++;
                disarm();
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
                    arm(ctx, nextMillis);
                }
            }
            ctx.write(msg, promise);
        }

        private void arm(ChannelHandlerContext ctx, long millis) {
            disarm();
            deadline = ctx.executor().schedule(() -> ctx.channel().close(), millis, TimeUnit.MILLISECONDS);
        }

        private void disarm() {
            if (deadline != null) {
                deadline.cancel(false);
                deadline = null;
            }
        }
    }
}
