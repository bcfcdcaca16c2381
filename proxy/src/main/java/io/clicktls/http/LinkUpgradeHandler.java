package io.clicktls.http;

import io.clicktls.config.ConfigSnapshot;
import io.clicktls.config.DomainTable;
import io.clicktls.config.Upgrade;
import io.clicktls.metrics.Metrics;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.util.ReferenceCountUtil;
import java.nio.channels.ClosedChannelException;
import java.util.ArrayDeque;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Upgrades tracked links in responses from http to https: {@code Location} headers and {@code text/html} bodies.
 * Sits on the client-facing channel (HTTP/1.1 connection or h2 stream child channel) between the HTTP codec and
 * the proxy handler: it reads each {@code HttpRequest} to learn the request's host, and rewrites the
 * {@code HttpResponse}/{@code HttpContent} objects written back. Runs on the channel's event loop; must not block.
 * Which links are the proxy's own, by host and port, and what they become is {@link LinkPorts}'s rule.
 *
 * <p>Each request takes the config snapshot current when it is read; responses are matched to requests in order
 * (HTTP/1.1 pipelining answers in order). With both {@code upgrade.location} and {@code upgrade.html} off a
 * response passes untouched at the cost of one queue poll.
 *
 * <p>An HTML body is rewritten as it streams ({@link HtmlLinkRewriter}; gzip and deflate are inflated and
 * compressed again, other codings pass untouched), so the response loses its {@code Content-Length} and, on
 * HTTP/1.1, is sent chunked; a strong {@code ETag} is made weak. A {@link FullHttpResponse}, and a body announced
 * with a {@code Content-Length} of at most {@link #HOLD_LIMIT} bytes (held whole before its head is sent), keep an
 * exact {@code Content-Length} instead, and are sent as they came when no link changed. A streamed body that turns
 * out to be corrupt or a decompression bomb closes the channel (its headers are already gone); a full or held one is
 * sent untouched. Not sharable: one instance per channel.
 */
public final class LinkUpgradeHandler extends ChannelDuplexHandler {

    private static final Logger log = LoggerFactory.getLogger(LinkUpgradeHandler.class);

    /** What the response to one request may undergo: what the config asks for and what the request allows. */
    private enum ResponsePlan {
        /** {@code upgrade.location} is on: upgrade the {@code Location} header. */
        LOCATION,
        /** {@code upgrade.html} is on: upgrade the links of an HTML body. */
        HTML,
        /** The request was a HEAD: its response has no body to rewrite. */
        HEAD,
        /** The client speaks HTTP/1.0: a streamed body of a new length could not be framed for it. */
        NO_CHUNKED
    }

    /** The plan of a response with nothing to upgrade; shared, never changed. */
    private static final Set<ResponsePlan> UNTOUCHED = Collections.unmodifiableSet(EnumSet.noneOf(ResponsePlan.class));

    /**
     * A body announced with a {@code Content-Length} up to this size is held whole, rewritten in one go and sent with
     * its exact length rather than re-framed as chunked: most click answers (a redirect's little HTML page) are far
     * smaller, and a chunked re-encoding costs a chunk header, CRLFs and a last chunk per response.
     */
    static final int HOLD_LIMIT = 16 * 1024;

    private final Supplier<ConfigSnapshot> config;
    private final Predicate<String> httpsReady;
    private final Supplier<LinkPorts> ports;
    private final Metrics metrics;

    /**
     * The plans of the requests read and not yet answered, never changed once queued: the usual request shares the
     * plan of its config snapshot, so only a HEAD or HTTP/1.0 request that may be upgraded allocates a set of its own.
     */
    private final ArrayDeque<Set<ResponsePlan>> unanswered = new ArrayDeque<>(4);

    /** The plans of the four combinations of {@code location} and {@code html}, by {@link #planIndex}; shared. */
    private static final List<Set<ResponsePlan>> PLANS = List.of(
            UNTOUCHED,
            Collections.unmodifiableSet(EnumSet.of(ResponsePlan.LOCATION)),
            Collections.unmodifiableSet(EnumSet.of(ResponsePlan.HTML)),
            Collections.unmodifiableSet(EnumSet.of(ResponsePlan.LOCATION, ResponsePlan.HTML)));

    /** The plan of the last request read, for a response that comes with no request queued. */
    private Set<ResponsePlan> lastPlan = UNTOUCHED;

    private BodyRewrite body;
    /** A small body with a known length being held whole; see {@link #HOLD_LIMIT}. */
    private HeldBody held;
    /** Reused for held plain bodies, which are rewritten within one call; made again when the ports change. */
    private PlainBodyRewrite plainRewrite;

    /**
     * @param config the live config ({@code upgrade.location}, {@code upgrade.html}, the domain table)
     * @param httpsReady whether a host name may be linked over https: a tracked domain whose certificate is in hand
     *     (non-blocking, called on the event loop)
     * @param ports the proxy's listener ports ({@link LinkPorts}), read once per rewritten response: a cheap,
     *     non-blocking read of the ports bound so far
     */
    public LinkUpgradeHandler(
            Supplier<ConfigSnapshot> config, Predicate<String> httpsReady, Supplier<LinkPorts> ports, Metrics metrics) {
        this.config = config;
        this.httpsReady = httpsReady;
        this.ports = ports;
        this.metrics = metrics;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        if (msg instanceof HttpRequest request) {
            Set<ResponsePlan> plan = planFor(request);
            lastPlan = plan;
            boolean head = HttpMethod.HEAD.equals(request.method());
            boolean http10 = HttpVersion.HTTP_1_0.equals(request.protocolVersion());
            if (!plan.isEmpty() && (head || http10)) {
                EnumSet<ResponsePlan> own = EnumSet.copyOf(plan);
                if (head) {
                    own.add(ResponsePlan.HEAD);
                }
                if (http10) {
                    own.add(ResponsePlan.NO_CHUNKED);
                }
                plan = own;
            }
            unanswered.add(plan);
        }
        ctx.fireChannelRead(msg);
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) throws Exception {
        if (msg instanceof HttpResponse response) {
            int code = response.status().code();
            if (code >= 100 && code < 200 && code != 101) {
                // an interim answer: the final response to the same request follows
                ctx.write(msg, promise);
                return;
            }
            endBody();
            Set<ResponsePlan> queued = unanswered.poll();
            Set<ResponsePlan> plan = queued != null ? queued : lastPlan;
            if (plan.isEmpty()) {
                ctx.write(msg, promise);
            } else {
                writeResponse(ctx, response, plan, promise);
            }
        } else if (held != null && msg instanceof HttpContent content) {
            holdContent(ctx, content, promise);
        } else if (body != null && msg instanceof HttpContent content) {
            writeContent(ctx, content, promise);
        } else {
            ctx.write(msg, promise);
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        endBody();
        unanswered.clear();
        ctx.fireChannelInactive();
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        endBody();
    }

    /**
     * The upgrades the current config asks for the request's domain: its own {@code upgrade} settings, else its
     * platform's, else the top-level ones; {@link #UNTOUCHED} for a {@code well_known} file, which is served as it is.
     */
    private Set<ResponsePlan> planFor(HttpRequest request) {
        ConfigSnapshot snapshot = config.get();
        if (snapshot == null) {
            return UNTOUCHED;
        }
        Upgrade upgrade = snapshot.config().upgrade();
        String uri = request.uri();
        ProxyHandler.RequestTarget target = uri.startsWith("/") ? null : ProxyHandler.RequestTarget.of(request);
        String hostHeader = target == null || target.authority() == null
                ? request.headers().get(HttpHeaderNames.HOST)
                : target.authority();
        String host = ProxyHandler.hostName(hostHeader);
        DomainTable.Route route =
                host == null ? null : snapshot.domains().find(host).orElse(null);
        if (route != null) {
            if (WellKnownAnswers.fileFor(target == null ? uri : target.path(), route) != null) {
                return UNTOUCHED;
            }
            upgrade = route.options().upgradeOr(upgrade);
        }
        return upgrade == null ? UNTOUCHED : PLANS.get(planIndex(upgrade.location(), upgrade.html()));
    }

    private static int planIndex(boolean location, boolean html) {
        return (location ? 1 : 0) + (html ? 2 : 0);
    }

    private void writeResponse(
            ChannelHandlerContext ctx, HttpResponse response, Set<ResponsePlan> plan, ChannelPromise promise) {
        LinkPorts linkPorts = ports.get();
        if (plan.contains(ResponsePlan.LOCATION)) {
            upgradeLocation(response.headers(), linkPorts);
        }
        boolean full = response instanceof FullHttpResponse;
        BodyCoding coding = plan.contains(ResponsePlan.HTML) ? bodyCoding(response, plan, full) : null;
        if (!full && coding != null && heldLength(response.headers()) >= 0) {
            held = new HeldBody(response, promise, coding, linkPorts);
            return;
        }
        BodyRewrite rewrite = coding == null ? null : newRewrite(ctx, coding, linkPorts);
        if (rewrite == null) {
            ctx.write(response, promise);
        } else if (full) {
            writeFull(ctx, (FullHttpResponse) response, rewrite, promise);
        } else {
            HttpHeaders headers = response.headers();
            headers.remove(HttpHeaderNames.CONTENT_LENGTH);
            if (ctx.channel() instanceof Http2StreamChannel) {
                headers.remove(HttpHeaderNames.TRANSFER_ENCODING);
            } else {
                headers.set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
            }
            bodyChanged(headers);
            body = rewrite;
            ctx.write(response, promise);
        }
    }

    private void upgradeLocation(HttpHeaders headers, LinkPorts linkPorts) {
        String location = headers.get(HttpHeaderNames.LOCATION);
        if (location != null) {
            String upgraded = LocationRewriter.upgrade(location, httpsReady, linkPorts);
            if (upgraded != location) {
                headers.set(HttpHeaderNames.LOCATION, upgraded);
                metrics.linkUpgraded("location", 1);
            }
        }
    }

    /**
     * The coding of this response's body if its links are to be rewritten, or {@code null} when it passes untouched:
     * no body, a byte range, a client that cannot take a new framing, not HTML, or a coding we cannot read.
     */
    private static BodyCoding bodyCoding(HttpResponse response, Set<ResponsePlan> plan, boolean full) {
        int code = response.status().code();
        // 206 is a byte range of the upstream's representation: rewriting it would corrupt the client's assembly
        if (plan.contains(ResponsePlan.HEAD)
                || code < 200
                || code == 204
                || code == 205
                || code == 206
                || code == 304) {
            return null;
        }
        if (!full
                && (plan.contains(ResponsePlan.NO_CHUNKED)
                        || HttpVersion.HTTP_1_0.equals(response.protocolVersion()))) {
            return null; // a changed length could not be framed for an HTTP/1.0 client
        }
        HttpHeaders headers = response.headers();
        if (!isHtml(headers.get(HttpHeaderNames.CONTENT_TYPE))) {
            return null;
        }
        // br, zstd, stacked codings: we cannot read them, so we leave them alone
        return BodyCoding.of(headers.get(HttpHeaderNames.CONTENT_ENCODING));
    }

    private BodyRewrite newRewrite(ChannelHandlerContext ctx, BodyCoding coding, LinkPorts linkPorts) {
        return switch (coding) {
            case IDENTITY -> new PlainBodyRewrite(httpsReady, linkPorts, ctx.alloc());
            case GZIP, DEFLATE -> new ZlibBodyRewrite(coding, httpsReady, linkPorts, ctx.alloc());
        };
    }

    /**
     * The rewrite of a held body, which runs within one call: the plain one is this channel's, reset, rather than a
     * new one per response.
     */
    private BodyRewrite heldRewrite(ChannelHandlerContext ctx, BodyCoding coding, LinkPorts linkPorts) {
        if (coding != BodyCoding.IDENTITY) {
            return newRewrite(ctx, coding, linkPorts);
        }
        PlainBodyRewrite rewrite = plainRewrite;
        if (rewrite == null || rewrite.ports() != linkPorts) {
            rewrite = new PlainBodyRewrite(httpsReady, linkPorts, ctx.alloc());
            plainRewrite = rewrite;
        } else {
            rewrite.reset();
        }
        return rewrite;
    }

    /**
     * The announced length of a body that may be held whole ({@code Content-Length} up to {@link #HOLD_LIMIT}, not
     * chunked), else -1.
     */
    static long heldLength(HttpHeaders headers) {
        if (headers.contains(HttpHeaderNames.TRANSFER_ENCODING)) {
            return -1;
        }
        String value = headers.get(HttpHeaderNames.CONTENT_LENGTH);
        if (value == null || value.isEmpty() || value.length() > 6) {
            return -1;
        }
        long length = 0;
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c < '0' || c > '9') {
                return -1;
            }
            length = length * 10 + (c - '0');
        }
        return length <= HOLD_LIMIT ? length : -1;
    }

    static boolean isHtml(String contentType) {
        if (contentType == null) {
            return false;
        }
        int start = 0;
        while (start < contentType.length() && isSpaceOrTab(contentType.charAt(start))) {
            start++;
        }
        String type = "text/html";
        if (!contentType.regionMatches(true, start, type, 0, type.length())) {
            return false;
        }
        int end = start + type.length();
        if (end == contentType.length()) {
            return true;
        }
        char next = contentType.charAt(end);
        return next == ';' || isSpaceOrTab(next);
    }

    private static boolean isSpaceOrTab(char c) {
        return c == ' ' || c == '\t';
    }

    private void writeFull(
            ChannelHandlerContext ctx, FullHttpResponse response, BodyRewrite rewrite, ChannelPromise promise) {
        ByteBuf rewritten = null;
        try {
            rewritten = rewriteToEnd(rewrite, response.content(), true);
        } catch (RuntimeException e) {
            log.debug("html body of a full response left as it is: {}", e.toString());
        } finally {
            rewrite.close();
        }
        int replacements = rewrite.replacements();
        if (rewritten == null || replacements == 0) {
            if (rewritten != null) {
                rewritten.release();
            }
            ctx.write(response, promise);
            return;
        }
        FullHttpResponse upgraded = response.replace(rewritten);
        response.release();
        HttpHeaders headers = upgraded.headers();
        if (!HttpUtil.isTransferEncodingChunked(upgraded)) {
            headers.setInt(HttpHeaderNames.CONTENT_LENGTH, rewritten.readableBytes());
        }
        bodyChanged(headers);
        metrics.linkUpgraded("html", replacements);
        ctx.write(upgraded, promise);
    }

    /**
     * Takes the next piece of a held body; at the last one, rewrites the whole body and sends the head and the body,
     * with the exact new length when a link changed, else exactly as they came.
     */
    private void holdContent(ChannelHandlerContext ctx, HttpContent content, ChannelPromise promise) {
        HeldBody holding = held;
        if (!(content instanceof LastHttpContent last)) {
            holding.add(ctx, content.content().retain());
            content.release();
            promise.trySuccess(); // nothing to send yet, and the writer may go on
            return;
        }
        held = null;
        ByteBuf whole;
        if (holding.body == null) {
            whole = last.content(); // the usual case: the whole body came in one piece
        } else {
            holding.add(ctx, last.content().retain());
            last.release();
            last = null;
            whole = holding.body;
        }
        BodyRewrite rewrite = heldRewrite(ctx, holding.coding, holding.ports);
        ByteBuf rewritten = null;
        try {
            rewritten = rewriteToEnd(rewrite, whole, true);
        } catch (RuntimeException e) {
            // the head is not sent yet: a body that cannot be read goes out as it came
            log.debug("html body held whole left as it is: {}", e.toString());
        } finally {
            rewrite.close();
        }
        int replacements = rewrite.replacements();
        HttpResponse head = holding.head;
        if (rewritten == null || replacements == 0) {
            if (rewritten != null) {
                rewritten.release();
            }
            ctx.write(head, holding.headPromise);
            ctx.write(last != null ? last : new DefaultLastHttpContent(whole), promise);
            return;
        }
        if (last != null) {
            last.release();
        } else {
            whole.release();
        }
        head.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, rewritten.readableBytes());
        bodyChanged(head.headers());
        metrics.linkUpgraded("html", replacements);
        ctx.write(head, holding.headPromise);
        ctx.write(new DefaultLastHttpContent(rewritten), promise);
    }

    private void writeContent(ChannelHandlerContext ctx, HttpContent content, ChannelPromise promise) {
        boolean last = content instanceof LastHttpContent;
        ByteBuf output;
        try {
            output = rewriteToEnd(body, content.content(), last);
        } catch (RuntimeException e) {
            content.release();
            endBody();
            promise.tryFailure(e);
            // the headers promised a body we can no longer produce: only closing tells the client so
            log.warn("closing {}: html body could not be rewritten: {}", ctx.channel(), e.toString());
            ctx.close();
            return;
        }
        if (body.lastChunkUnchanged()
                && output.readableBytes() == content.content().readableBytes()) {
            // the usual case (no link in this chunk): send the chunk itself rather than a copy of the message
            output.release();
            if (last) {
                endBody();
            }
            ctx.write(content, promise);
            return;
        }
        HttpContent rewritten = content.replace(output);
        content.release();
        if (last) {
            endBody();
        } else if (!output.isReadable()) {
            // all held back as a possible link: nothing to send yet, and the writer may go on
            rewritten.release();
            promise.trySuccess();
            return;
        }
        ctx.write(rewritten, promise);
    }

    private static ByteBuf rewriteToEnd(BodyRewrite rewrite, ByteBuf chunk, boolean last) {
        ByteBuf output = rewrite.rewrite(chunk);
        if (!last) {
            return output;
        }
        ByteBuf rest;
        try {
            rest = rewrite.finish();
        } catch (RuntimeException e) {
            output.release();
            throw e;
        }
        return concat(output, rest);
    }

    private static ByteBuf concat(ByteBuf first, ByteBuf second) {
        if (!second.isReadable()) {
            second.release();
            return first;
        }
        if (!first.isReadable()) {
            first.release();
            return second;
        }
        return Unpooled.wrappedBuffer(first, second);
    }

    /** Headers that describe the upstream's exact bytes no longer do. */
    private static void bodyChanged(HttpHeaders headers) {
        String etag = headers.get(HttpHeaderNames.ETAG);
        if (etag != null && etag.startsWith("\"")) {
            headers.set(HttpHeaderNames.ETAG, "W/" + etag);
        }
        headers.remove(HttpHeaderNames.CONTENT_MD5);
        headers.remove("content-digest");
        headers.remove("repr-digest");
        headers.remove("digest");
    }

    private void endBody() {
        HeldBody dropped = held;
        if (dropped != null) {
            // the response ended before its body did (the channel closes): nothing of it was sent
            held = null;
            dropped.release();
        }
        BodyRewrite ending = body;
        if (ending != null) {
            body = null;
            ending.close();
            int replacements = ending.replacements();
            if (replacements > 0) {
                metrics.linkUpgraded("html", replacements);
            }
        }
    }

    /** A response head and the pieces of its body so far, held until the body is complete. */
    private static final class HeldBody {

        final HttpResponse head;
        final ChannelPromise headPromise;
        final BodyCoding coding;
        final LinkPorts ports;
        /** The pieces before the last, or {@code null} while there were none. */
        CompositeByteBuf body;

        HeldBody(HttpResponse head, ChannelPromise headPromise, BodyCoding coding, LinkPorts ports) {
            this.head = head;
            this.headPromise = headPromise;
            this.coding = coding;
            this.ports = ports;
        }

        void add(ChannelHandlerContext ctx, ByteBuf piece) {
            if (body == null) {
                body = ctx.alloc().compositeBuffer();
            }
            body.addComponent(true, piece);
        }

        void release() {
            ReferenceCountUtil.release(head);
            if (body != null) {
                body.release();
            }
            if (!headPromise.isVoid()) {
                headPromise.tryFailure(new ClosedChannelException());
            }
        }
    }
}
