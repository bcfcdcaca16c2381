package io.clicktls.http;

import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One request's trip upstream and back, for the {@link ProxyHandler} of one client connection or stream: it writes
 * the request to a pooled upstream connection, passes the response on as it comes, and reports its end to the
 * handler, which owns the client side (the inbox of request pieces, reads, and what the connection does next).
 *
 * <p>The response side is an explicit {@link Response} state. Lives on the client channel's event loop, which is
 * also the upstream connection's; must not block. Not sharable: one instance per request.
 */
final class Exchange implements UpstreamConnection.Listener {

    // The handler's logger: what an exchange logs reads as the proxy's, as it did when this was an inner class.
    private static final Logger log = LoggerFactory.getLogger(ProxyHandler.class);

    /** Where the response stands. Moves only forward, but from informational responses back to awaiting a head. */
    enum Response {
        /** No response head yet (connecting, sending, or waiting for the upstream). */
        AWAITING_HEAD,
        /** A 1xx response (other than 101) is being dropped up to its end marker; the final head comes after. */
        SKIPPING_INFORMATIONAL,
        /** The final head went on to the client; body pieces follow it. */
        STREAMING,
        /** Complete, aborted, or the client left: everything further is dropped. */
        DONE
    }

    /** What the exchange needs of its handler: the client side's reactions to the exchange's progress. */
    interface Owner {

        /** The upstream connection is in hand and the request head about to be written: the body may follow. */
        void forwarding();

        /** The upstream can take (more of) the request body. */
        void upstreamWritable();

        /**
         * The exchange ended without a complete response: answer {@code failure} if no response began, else close
         * the client connection (or stream).
         */
        void exchangeFailed(ErrorResponses.Failure failure, String platform, boolean responseStarted);

        /**
         * The response is complete and written (flushed unless {@code closeClient}).
         *
         * @param requestComplete whether the whole request went upstream (if not, the client connection ends)
         * @param lastWrite the write of the last response piece when the request was not complete
         * @param closeClient the client asked to close: flush and close now
         */
        void exchangeDone(boolean requestComplete, ChannelFuture lastWrite, boolean closeClient);

        /** Whether the client connection can close together with the last response piece (nothing else pending). */
        boolean canCloseWithLastWrite();
    }

    private final ProxyContext context;
    private final ChannelHandlerContext ctx;
    private final Owner owner;
    /** The handler's response timer, shared by its exchanges one after the other. */
    private final Deadline responseDeadline;

    private final HttpMethod method;
    private final boolean http2;
    private final boolean clientChunked;
    /** The client's HTTP/1.x request asked to close the connection after the response. */
    private final boolean clientCloses;

    private final String platform;
    private HttpRequest head;
    private UpstreamConnection upstream;
    private Response response = Response.AWAITING_HEAD;
    private boolean requestComplete;
    private boolean upstreamKeepAlive = true;
    private boolean readWhenWritable;
    private boolean unflushed;
    private boolean clientUnflushed;
    private long sentNanos;
    private ChannelFuture lastClientWrite;

    /**
     * @param request the client's request (its method and version are read; it is not kept)
     * @param head the request head to send upstream
     */
    Exchange(
            ProxyContext context,
            ChannelHandlerContext ctx,
            Owner owner,
            Deadline responseDeadline,
            boolean http2,
            HttpRequest request,
            HttpRequest head,
            String platform,
            boolean clientCloses) {
        this.context = context;
        this.ctx = ctx;
        this.owner = owner;
        this.responseDeadline = responseDeadline;
        this.http2 = http2;
        this.method = request.method();
        this.clientChunked = !http2 && request.protocolVersion().equals(HttpVersion.HTTP_1_1);
        this.clientCloses = clientCloses;
        this.head = head;
        this.platform = platform;
    }

    Response response() {
        return response;
    }

    /** Whether the whole request has been written upstream. */
    boolean requestComplete() {
        return requestComplete;
    }

    void upstreamAcquired(Future<? super UpstreamConnection> future) {
        if (response == Response.DONE) {
            // The client left while we were connecting; nothing was written, so the connection is as good as new.
            if (future.isSuccess()) {
                context.pool().release((UpstreamConnection) future.getNow(), true);
            }
            return;
        }
        if (!future.isSuccess()) {
            log.debug("upstream for {} unreachable", platform, future.cause());
            abort(ErrorResponses.Failure.UPSTREAM_UNREACHABLE);
            return;
        }
        upstream = (UpstreamConnection) future.getNow();
        upstream.bind(this);
        owner.forwarding();
        sentNanos = System.nanoTime();
        // Void promises here and below: a failed write reaches UpstreamConnection.exceptionCaught, which reports
        // it as upstreamClosed, without a promise and a listener per write.
        upstream.channel().write(head, upstream.channel().voidPromise());
        head = null;
        unflushed = true;
        upstream.read();
        owner.upstreamWritable();
    }

    boolean upstreamWritable() {
        return upstream.channel().isWritable();
    }

    void forwardBody(HttpObject message) {
        if (!(message instanceof HttpContent content) || content.decoderResult().isFailure()) {
            ReferenceCountUtil.release(message);
            abort(ErrorResponses.Failure.MALFORMED_REQUEST);
            return;
        }
        boolean last = content instanceof LastHttpContent;
        upstream.channel().write(content, upstream.channel().voidPromise());
        unflushed = true;
        if (last) {
            requestComplete = true;
            if (response != Response.STREAMING) {
                armResponseTimer();
            }
        }
    }

    void flushUpstream() {
        if (unflushed && upstream != null) {
            unflushed = false;
            upstream.channel().flush();
        }
    }

    /**
     * Starts the response timeout once the last of the request is written (handed to the upstream channel, a
     * moment before it is on the wire: writes are only made while the upstream takes them).
     */
    private void armResponseTimer() {
        responseDeadline.expireIn(context.settings().upstreamResponseTimeout().toMillis());
    }

    void responseTimedOut() {
        if (response == Response.AWAITING_HEAD || response == Response.SKIPPING_INFORMATIONAL) {
            log.debug(
                    "upstream for {} did not answer within {}",
                    platform,
                    context.settings().upstreamResponseTimeout());
            abort(ErrorResponses.Failure.UPSTREAM_TIMEOUT);
        }
    }

    @Override
    public void upstreamRead(HttpObject message) {
        if (response == Response.DONE) {
            ReferenceCountUtil.release(message);
            return;
        }
        if (message instanceof HttpResponse head) {
            boolean passedOn = responseHead(head);
            if (message instanceof HttpContent) {
                // Only a message the decoder gave up on is both head and content.
                ReferenceCountUtil.release(message);
            } else if (passedOn) {
                readUpstreamWhenWritable();
            }
            return;
        }
        if (message instanceof HttpContent content) {
            responseContent(content);
        } else {
            ReferenceCountUtil.release(message);
        }
    }

    /** @return whether the head went on to the client */
    private boolean responseHead(HttpResponse head) {
        if (head.decoderResult().isFailure()) {
            log.debug(
                    "malformed response from {}", platform, head.decoderResult().cause());
            abort(ErrorResponses.Failure.UPSTREAM_UNREACHABLE);
            return false;
        }
        int code = head.status().code();
        if (code < 200) {
            if (code == 101) {
                // No upgrade was asked for (Upgrade is hop-by-hop and removed): the upstream is confused.
                abort(ErrorResponses.Failure.UPSTREAM_UNREACHABLE);
            } else {
                // 100 Continue was answered by us already; 103 and the like are dropped with their end marker.
                response = Response.SKIPPING_INFORMATIONAL;
                upstream.read();
            }
            return false;
        }
        cancelResponseTimer();
        context.metrics().upstreamLatency(System.nanoTime() - sentNanos);
        upstreamKeepAlive = HttpUtil.isKeepAlive(head);
        upstream.keepAliveHintSeconds(ForwardingHeaders.keepAliveTimeoutSeconds(head.headers()));
        response = Response.STREAMING;
        context.metrics().request(platform, code);
        writeToClient(ForwardingHeaders.clientResponse(head, http2, clientChunked, method));
        return true;
    }

    private void responseContent(HttpContent content) {
        switch (response) {
            case SKIPPING_INFORMATIONAL -> {
                ReferenceCountUtil.release(content);
                if (content instanceof LastHttpContent) {
                    response = Response.AWAITING_HEAD;
                }
                upstream.read();
            }
            case STREAMING -> streamContent(content);
            default -> ReferenceCountUtil.release(content);
        }
    }

    private void streamContent(HttpContent content) {
        if (content.decoderResult().isFailure()) {
            ReferenceCountUtil.release(content);
            abort(ErrorResponses.Failure.UPSTREAM_CLOSED_MID_RESPONSE);
            return;
        }
        if (content instanceof LastHttpContent) {
            // Only when all earlier output is on the wire: the close then waits for no more than this last bit
            // (SslHandler gives the close_notify 3 s to leave before it closes anyway).
            boolean closeClient = requestComplete && clientCloses && owner.canCloseWithLastWrite();
            if (requestComplete) {
                writeToClient(content);
            } else {
                lastClientWrite = ctx.write(content); // the connection closes once it is sent
            }
            if (closeClient) {
                clientUnflushed = false; // flushed with the close, see ProxyHandler.exchangeDone
            } else {
                flushClient();
            }
            responseComplete(closeClient);
        } else {
            writeToClient(content);
            readUpstreamWhenWritable();
        }
    }

    /**
     * Written now, flushed when the upstream read that brought it is done ({@link #upstreamReadComplete}) or the
     * response is complete: a response head and body that came in one read leave in one TLS record and one system
     * call. A failed write closes the client channel through {@link ProxyHandler#exceptionCaught}.
     */
    private void writeToClient(HttpObject message) {
        ctx.write(message, ctx.voidPromise());
        clientUnflushed = true;
    }

    private void flushClient() {
        clientUnflushed = false;
        ctx.flush();
    }

    @Override
    public void upstreamReadComplete() {
        if (clientUnflushed && response != Response.DONE) {
            flushClient();
        }
    }

    private void readUpstreamWhenWritable() {
        if (ctx.channel().isWritable()) {
            upstream.read();
        } else {
            readWhenWritable = true;
        }
    }

    void clientWritable() {
        if (readWhenWritable && response != Response.DONE) {
            readWhenWritable = false;
            upstream.read();
        }
    }

    @Override
    public void upstreamWritabilityChanged() {
        if (response != Response.DONE && upstream.channel().isWritable()) {
            owner.upstreamWritable();
        }
    }

    @Override
    public void upstreamClosed(Throwable cause) {
        if (response == Response.DONE) {
            return;
        }
        boolean started = response == Response.STREAMING;
        log.debug("upstream connection for {} closed (response started: {})", platform, started, cause);
        // Not retried: the upstream may have received the request.
        abort(
                started
                        ? ErrorResponses.Failure.UPSTREAM_CLOSED_MID_RESPONSE
                        : ErrorResponses.Failure.UPSTREAM_UNREACHABLE);
    }

    private void responseComplete(boolean closeClient) {
        response = Response.DONE;
        cancelResponseTimer();
        context.inFlight().decrementAndGet();
        context.pool().release(upstream, requestComplete && upstreamKeepAlive);
        owner.exchangeDone(requestComplete, lastClientWrite, closeClient);
    }

    private void abort(ErrorResponses.Failure failure) {
        if (response == Response.DONE) {
            return;
        }
        boolean started = response == Response.STREAMING;
        response = Response.DONE;
        cancelResponseTimer();
        context.inFlight().decrementAndGet();
        closeUpstream();
        owner.exchangeFailed(failure, platform, started);
    }

    /** The client connection or stream is gone: the upstream connection is closed (it may be mid-request). */
    void clientGone() {
        if (response == Response.DONE) {
            return;
        }
        response = Response.DONE;
        cancelResponseTimer();
        context.inFlight().decrementAndGet();
        closeUpstream();
    }

    private void closeUpstream() {
        if (upstream != null) {
            upstream.unbind();
            upstream.channel().close();
        }
    }

    private void cancelResponseTimer() {
        responseDeadline.clear();
    }
}
