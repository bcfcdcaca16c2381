package io.clicktls.http;

import io.clicktls.config.DomainTable;
import io.clicktls.config.HostNames;
import io.clicktls.config.Platform;
import io.clicktls.tls.ClientAddress;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.Locale;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.RejectedExecutionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Forwards the requests of one client connection (HTTP/1.1) or stream (HTTP/2) to their platforms, one at a time
 * and in order, streaming bodies both ways.
 *
 * <p>Per request: the Host (or {@code :authority}) picks the platform through the live config's domain table;
 * a request without Host is malformed (400), a host not served or not the TLS connection's name is misdirected
 * (421). The request target goes upstream exactly as received: no decoding, no normalisation.
 *
 * <p>Backpressure: the client channel does not read on its own; it reads the next piece of a request body only
 * once the upstream can take more, and the upstream reads the next piece of a response only once the client
 * channel can take more. Both sides are judged by channel writability rather than by write completion, because a
 * handler between this one and the socket (the link rewriter) may hold a write until it has the whole body.
 *
 * <p>A request is never retried once anything of it may have reached the upstream: a click counts once.
 *
 * <p>The handler owns the client side ({@link State}: idle, answering locally, connecting, forwarding, discarding,
 * closed); each forwarded request's trip upstream and back is an {@link Exchange}, with its own response state,
 * which reports its end back through {@link Exchange.Owner}.
 *
 * <p>Runs on the channel's event loop; must not block. Not sharable: one instance per connection or stream.
 */
final class ProxyHandler extends ChannelInboundHandlerAdapter implements Exchange.Owner {

    private static final Logger log = LoggerFactory.getLogger(ProxyHandler.class);

    private enum State {
        /** Waiting for a request. */
        IDLE,
        /** A {@link LocalAnswers} answer is being prepared. */
        ANSWERING,
        /** Waiting for an upstream connection. */
        CONNECTING,
        /** The request is going upstream and/or the response coming back. */
        FORWARDING,
        /** Dropping the rest of a request that was answered locally. */
        DISCARDING,
        /** The connection is closing or closed: everything is dropped. */
        CLOSED
    }

    private final ProxyContext context;
    private final String scheme;
    private final boolean checkServerName;
    private final LocalAnswers localAnswers;
    private final ArrayDeque<HttpObject> inbox = new ArrayDeque<>();
    private ChannelHandlerContext ctx;
    private boolean http2;
    /** On TLS connections: sends a last response and the close_notify alert together. */
    private LastFlushWithClose lastFlush;

    private State state = State.IDLE;
    private Exchange exchange;
    private boolean pumping;
    /**
     * Between a {@code channelRead} and the {@code channelReadComplete} that ends its batch: a read asked for, and
     * the upstream flush, wait for the end of the batch, so that a request that came in several messages (head,
     * last content) costs one read request down the pipeline and one flush upstream.
     */
    private boolean inReadBatch;

    private boolean readWanted;
    /** The upstream response timeout of the exchange in flight, armed by it once the whole request is sent. */
    private Deadline responseDeadline;
    /** Per connection, computed once: the client's address as sent upstream. */
    private String clientAddress;
    /** The host last found to match the TLS connection's name: later requests for it skip the check. */
    private String matchedHost;

    private Platform lastPlatform;
    private UpstreamKey lastUpstreamKey;

    /**
     * @param scheme {@code https} or {@code http}: how clients reach this listener ({@code X-Forwarded-Proto})
     * @param checkServerName whether a request's host must be the TLS connection's server name
     */
    ProxyHandler(ProxyContext context, String scheme, boolean checkServerName, LocalAnswers localAnswers) {
        this.context = context;
        this.scheme = scheme;
        this.checkServerName = checkServerName;
        this.localAnswers = localAnswers;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        this.http2 = ctx.channel() instanceof Http2StreamChannel;
        this.lastFlush = http2 ? null : ctx.pipeline().get(LastFlushWithClose.class);
        this.responseDeadline = new Deadline(ctx.executor(), this::responseTimedOut);
        ctx.channel().config().setAutoRead(false);
        if (ctx.channel().isActive()) {
            ctx.read();
        }
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        ctx.read();
        ctx.fireChannelActive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        inReadBatch = true;
        if (state == State.CLOSED || !(msg instanceof HttpObject httpObject)) {
            ReferenceCountUtil.release(msg);
            return;
        }
        inbox.add(httpObject);
        pump();
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        inReadBatch = false;
        if (exchange != null) {
            exchange.flushUpstream();
        }
        if (readWanted) {
            readWanted = false;
            ctx.read();
        }
        ctx.fireChannelReadComplete();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (exchange != null && ctx.channel().isWritable()) {
            exchange.clientWritable();
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        state = State.CLOSED;
        inReadBatch = false;
        responseDeadline.cancel();
        releaseInbox();
        if (exchange != null) {
            exchange.clientGone();
            exchange = null;
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (http2 && state == State.IDLE && cause instanceof DecoderException) {
            // The stream's HTTP/2 to HTTP/1.1 conversion refused the request (a space in :path, say): nothing has
            // been answered on the stream yet, so the client is told why rather than left with a reset.
            fail(ErrorResponses.Failure.MALFORMED_REQUEST, null);
            return;
        }
        ctx.fireExceptionCaught(cause); // ClientErrorLog, last in the pipeline, counts, logs and closes
    }

    /**
     * Consumes the inbox as far as the state allows, then asks for more input when it needs it. Not re-entered: a
     * call from within (a pooled upstream handed over at once, a write failing at once) returns, and the running
     * loop, which reads the state afresh on each turn, carries on.
     */
    private void pump() {
        if (pumping) {
            return;
        }
        pumping = true;
        try {
            pumpInbox();
        } finally {
            pumping = false;
            if (exchange != null && !inReadBatch) {
                exchange.flushUpstream();
            }
        }
    }

    /** Asks the client channel for more input: at the end of the current read batch, or now outside one. */
    private void requestRead() {
        if (inReadBatch) {
            readWanted = true;
        } else {
            ctx.read();
        }
    }

    private void pumpInbox() {
        while (true) {
            switch (state) {
                case IDLE -> {
                    HttpObject next = inbox.poll();
                    if (next == null) {
                        requestRead();
                        return;
                    }
                    if (next instanceof HttpRequest request) {
                        startRequest(request);
                    } else {
                        ReferenceCountUtil.release(next);
                    }
                }
                case DISCARDING -> {
                    HttpObject next = inbox.poll();
                    if (next == null) {
                        requestRead();
                        return;
                    }
                    ReferenceCountUtil.release(next);
                    if (next instanceof LastHttpContent) {
                        state = State.IDLE;
                    }
                }
                case FORWARDING -> {
                    if (exchange.requestComplete()) {
                        if (inbox.isEmpty()) {
                            // Read ahead while the response comes: the socket stays registered for reading (no
                            // epoll_ctl to stop and start again per request) and a client that leaves is noticed.
                            // At most one read's worth waits in the inbox.
                            requestRead();
                        }
                        return;
                    }
                    if (!exchange.upstreamWritable()) {
                        return;
                    }
                    HttpObject next = inbox.poll();
                    if (next == null) {
                        requestRead();
                        return;
                    }
                    exchange.forwardBody(next);
                }
                default -> {
                    return;
                }
            }
        }
    }

    private void startRequest(HttpRequest request) {
        if (request.decoderResult().isFailure()) {
            log.debug(
                    "malformed request on {}",
                    ctx.channel(),
                    request.decoderResult().cause());
            ReferenceCountUtil.release(request);
            fail(ErrorResponses.forDecoderFailure(request.decoderResult().cause()), null);
            return;
        }
        // Before anything else looks at the request (a local answer puts the target in a Location header).
        ErrorResponses.Failure refused = RequestSyntax.problem(request, http2);
        if (refused != null) {
            log.debug("request refused on {}: {}", ctx.channel(), refused);
            ReferenceCountUtil.release(request);
            fail(refused, null);
            return;
        }
        RequestTarget target = RequestTarget.of(request);
        Iterator<String> hosts = request.headers().valueStringIterator(HttpHeaderNames.HOST);
        String firstHost = hosts.hasNext() ? hosts.next() : null;
        // Two Host headers in HTTP/1.1 are an attack or a bug (RFC 9112 section 3.2); HTTP/2 requests carry
        // :authority first and may repeat it as Host.
        if (target == null || !http2 && hosts.hasNext()) {
            ReferenceCountUtil.release(request);
            fail(ErrorResponses.Failure.MALFORMED_REQUEST, null);
            return;
        }
        String hostHeader = target.authority() != null ? target.authority() : firstHost;
        String host = hostName(hostHeader);
        DomainTable.Route route = host == null
                ? null
                : context.config().get().domains().find(host).orElse(null);

        CompletionStage<FullHttpResponse> local =
                localAnswers.answer(request, target.path(), host, route, ClientAddress.ip(ctx.channel()));
        if (local != null) {
            state = State.ANSWERING;
            local.whenComplete((response, failure) -> onLoop(() ->
                    localAnswerReady(request, target, hostHeader, host, route, failure == null ? response : null)));
            return;
        }
        forward(request, target, hostHeader, host, route);
    }

    private void localAnswerReady(
            HttpRequest request,
            RequestTarget target,
            String hostHeader,
            String host,
            DomainTable.Route route,
            FullHttpResponse response) {
        if (state == State.CLOSED) {
            ReferenceCountUtil.release(request);
            ReferenceCountUtil.release(response);
            return;
        }
        if (response == null) {
            forward(request, target, hostHeader, host, route);
            pump();
            return;
        }
        context.metrics()
                .request(
                        route == null ? "none" : route.platform().name(),
                        response.status().code());
        boolean keepAlive = HttpUtil.isKeepAlive(request) && !hasBody(request);
        boolean complete = request instanceof LastHttpContent;
        ReferenceCountUtil.release(request);
        if (!keepAlive) {
            // The body was not read: the connection cannot carry another request.
            response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
            state = State.CLOSED;
            releaseInbox();
            ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
            return;
        }
        ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE_ON_FAILURE);
        state = complete ? State.IDLE : State.DISCARDING;
        pump();
    }

    private void forward(
            HttpRequest request, RequestTarget target, String hostHeader, String host, DomainTable.Route route) {
        if (host == null) {
            ReferenceCountUtil.release(request);
            fail(ErrorResponses.Failure.MALFORMED_REQUEST, null);
            return;
        }
        if (route == null) {
            ReferenceCountUtil.release(request);
            fail(ErrorResponses.Failure.HOST_NOT_SERVED, null);
            return;
        }
        Platform platform = route.platform();
        if (checkServerName && !host.equals(matchedHost)) {
            if (!ConnectionNames.hostMatches(ctx.channel(), host)) {
                ReferenceCountUtil.release(request);
                fail(ErrorResponses.Failure.HOST_NOT_SERVED, platform.name());
                return;
            }
            matchedHost = host;
        }
        if (request instanceof FullHttpRequest full) {
            // HTTP/2 request that ended with its headers (or was otherwise delivered whole): frame its body here.
            if (full.content().isReadable() || HttpUtil.isContentLengthSet(full)) {
                HttpUtil.setContentLength(full, full.content().readableBytes());
            }
            inbox.addFirst(new DefaultLastHttpContent(full.content().retain()));
        }
        // Read before the hop-by-hop headers (Connection among them) are stripped for the upstream.
        boolean clientCloses = !http2 && !HttpUtil.isKeepAlive(request);
        HttpRequest upstreamRequest = ForwardingHeaders.upstreamRequest(
                request, target.path(), hostHeader, platform, clientAddress(), scheme);
        Exchange started = new Exchange(
                context, ctx, this, responseDeadline, http2, request, upstreamRequest, platform.name(), clientCloses);
        ReferenceCountUtil.release(request);
        exchange = started;
        state = State.CONNECTING;
        context.inFlight().incrementAndGet();
        context.pool()
                .acquire(ctx.channel().eventLoop(), upstreamKey(platform))
                .addListener(f -> started.upstreamAcquired(f));
    }

    /** Answers {@code failure} and closes the connection (HTTP/1.1) or stream (HTTP/2). */
    private void fail(ErrorResponses.Failure failure, String platform) {
        state = State.CLOSED;
        releaseInbox();
        ErrorResponses.send(ctx, failure, platform, context.metrics());
    }

    @Override
    public void forwarding() {
        state = State.FORWARDING;
    }

    @Override
    public void upstreamWritable() {
        if (state == State.FORWARDING) {
            pump();
        }
    }

    @Override
    public void exchangeFailed(ErrorResponses.Failure failure, String platform, boolean responseStarted) {
        exchange = null;
        if (responseStarted) {
            state = State.CLOSED;
            releaseInbox();
            ctx.close();
        } else {
            fail(failure, platform);
        }
    }

    @Override
    public boolean canCloseWithLastWrite() {
        return lastFlush != null && nothingPending();
    }

    @Override
    public void exchangeDone(boolean requestComplete, ChannelFuture lastWrite, boolean closeClient) {
        exchange = null;
        if (closeClient) {
            // The client asked to close after this response (HttpServerKeepAliveHandler would close it once the
            // response is written): closing now, the response and TLS's close_notify leave in one system call.
            state = State.CLOSED;
            releaseInbox();
            lastFlush.flushThenClose(ctx);
            return;
        }
        if (!requestComplete) {
            // The upstream answered before the whole body arrived; the rest will not be read, so the connection
            // (or stream) ends after the response.
            state = State.CLOSED;
            releaseInbox();
            lastWrite.addListener(ChannelFutureListener.CLOSE);
            return;
        }
        state = State.IDLE;
        pump();
    }

    private boolean nothingPending() {
        ChannelOutboundBuffer buffer = ctx.channel().unsafe().outboundBuffer();
        return buffer != null && buffer.isEmpty();
    }

    private void onLoop(Runnable task) {
        try {
            // Always a new task, also when already on the loop: the caller may be inside pump().
            ctx.executor().execute(task);
        } catch (RejectedExecutionException e) {
            log.debug("event loop gone; dropping a local answer");
        }
    }

    private void releaseInbox() {
        HttpObject next;
        while ((next = inbox.poll()) != null) {
            ReferenceCountUtil.release(next);
        }
    }

    private String clientAddress() {
        String address = clientAddress;
        if (address == null) {
            SocketAddress remote = ClientAddress.of(ctx.channel());
            address = remote instanceof InetSocketAddress inet && inet.getAddress() != null
                    ? inet.getAddress().getHostAddress()
                    : String.valueOf(remote);
            clientAddress = address;
        }
        return address;
    }

    /** Platforms are immutable config values: the key of the last one is kept for the connection's next request. */
    private UpstreamKey upstreamKey(Platform platform) {
        if (platform != lastPlatform) {
            lastUpstreamKey = UpstreamKey.of(platform);
            lastPlatform = platform;
        }
        return lastUpstreamKey;
    }

    private void responseTimedOut() {
        if (exchange != null) {
            exchange.responseTimedOut();
        }
    }

    private static boolean hasBody(HttpRequest request) {
        if (request instanceof FullHttpRequest full) {
            return full.content().isReadable();
        }
        return HttpUtil.isTransferEncodingChunked(request) || HttpUtil.getContentLength(request, 0L) > 0;
    }

    /** The host name of a Host value: port and IPv6 brackets removed, lower case; {@code null} if blank. */
    static String hostName(String hostHeader) {
        if (hostHeader == null) {
            return null;
        }
        String value = hostHeader.trim();
        if (value.isEmpty()) {
            return null;
        }
        if (value.startsWith("[")) {
            int close = value.indexOf(']');
            return close < 0 ? null : value.substring(1, close).toLowerCase(Locale.ROOT);
        }
        int colon = value.lastIndexOf(':');
        if (colon >= 0) {
            for (int i = colon + 1; i < value.length(); i++) {
                char c = value.charAt(i);
                if (c < '0' || c > '9') {
                    return null;
                }
            }
            value = value.substring(0, colon);
        }
        return value.isEmpty() ? null : HostNames.normalize(value);
    }

    /**
     * The request target split for forwarding: the origin-form path and query, byte for byte, and the authority
     * when the client used the absolute form (RFC 9112 section 3.2.2: it then overrides Host).
     */
    record RequestTarget(String path, String authority) {

        /** {@code null} when the target is of a form a reverse proxy cannot forward. */
        static RequestTarget of(HttpRequest request) {
            String uri = request.uri();
            if (uri.startsWith("/")) {
                return new RequestTarget(uri, null);
            }
            if ("*".equals(uri)) {
                return HttpMethod.OPTIONS.equals(request.method()) ? new RequestTarget(uri, null) : null;
            }
            int schemeEnd = uri.indexOf("://");
            if (schemeEnd <= 0) {
                return null;
            }
            String scheme = uri.substring(0, schemeEnd);
            if (!"http".equalsIgnoreCase(scheme) && !"https".equalsIgnoreCase(scheme)) {
                return null;
            }
            int start = schemeEnd + 3;
            int end = start;
            while (end < uri.length() && "/?#".indexOf(uri.charAt(end)) < 0) {
                end++;
            }
            String authority = uri.substring(start, end);
            if (authority.isEmpty() || authority.indexOf('@') >= 0) {
                return null;
            }
            String rest = uri.substring(end);
            return new RequestTarget(rest.startsWith("/") ? rest : "/" + rest, authority);
        }
    }
}
