package io.clicktls.http;

import io.clicktls.config.ConfigSnapshot;
import io.clicktls.config.Upgrade;
import io.clicktls.metrics.Metrics;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
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
import java.util.ArrayDeque;
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
 * HTTP/1.1, is sent chunked; a strong {@code ETag} is made weak. A {@link FullHttpResponse} keeps an exact
 * {@code Content-Length} instead, and is sent as it came when no link changed. A streamed body that turns out to be
 * corrupt or a decompression bomb closes the channel (its headers are already gone); a full one is sent untouched.
 * Not sharable: one instance per channel.
 */
public final class LinkUpgradeHandler extends ChannelDuplexHandler {

    private static final Logger log = LoggerFactory.getLogger(LinkUpgradeHandler.class);

    private static final int LOCATION = 1;
    private static final int HTML = 2;
    private static final int HEAD = 4;
    private static final int NO_CHUNKED = 8;

    private final Supplier<ConfigSnapshot> config;
    private final Predicate<String> httpsReady;
    private final Supplier<LinkPorts> ports;
    private final Metrics metrics;

    /** Flags of the requests read and not yet answered; small Integers are cached, so this does not allocate. */
    private final ArrayDeque<Integer> unanswered = new ArrayDeque<>(4);
    private BodyRewrite body;

    /**
     * @param config the live config ({@code upgrade.location}, {@code upgrade.html}, the domain table)
     * @param httpsReady whether a host name may be linked over https: a tracked domain whose certificate is in hand
     *     (non-blocking, called on the event loop)
     * @param ports the proxy's listener ports ({@link LinkPorts}), read once per rewritten response: a cheap,
     *     non-blocking read of the ports bound so far
     */
    public LinkUpgradeHandler(Supplier<ConfigSnapshot> config, Predicate<String> httpsReady,
            Supplier<LinkPorts> ports, Metrics metrics) {
        this.config = config;
        this.httpsReady = httpsReady;
        this.ports = ports;
        this.metrics = metrics;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        if (msg instanceof HttpRequest request) {
            int flags = upgradeFlags();
            if (flags != 0) {
                if (HttpMethod.HEAD.equals(request.method())) {
                    flags |= HEAD;
                }
                if (HttpVersion.HTTP_1_0.equals(request.protocolVersion())) {
                    flags |= NO_CHUNKED;
                }
            }
            unanswered.add(flags);
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
            Integer flags = unanswered.poll();
            int upgrades = flags != null ? flags : upgradeFlags();
            if (upgrades == 0) {
                ctx.write(msg, promise);
            } else {
                writeResponse(ctx, response, upgrades, promise);
            }
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

    private int upgradeFlags() {
        ConfigSnapshot snapshot = config.get();
        Upgrade upgrade = snapshot == null ? null : snapshot.config().upgrade();
        if (upgrade == null) {
            return 0;
        }
        return (upgrade.location() ? LOCATION : 0) | (upgrade.html() ? HTML : 0);
    }

    private void writeResponse(ChannelHandlerContext ctx, HttpResponse response, int flags, ChannelPromise promise) {
        LinkPorts linkPorts = ports.get();
        if ((flags & LOCATION) != 0) {
            upgradeLocation(response.headers(), linkPorts);
        }
        boolean full = response instanceof FullHttpResponse;
        BodyRewrite rewrite = (flags & HTML) != 0 ? startBody(ctx, response, flags, full, linkPorts) : null;
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

    /** The rewrite for this response's body, or {@code null} when the body is to pass untouched. */
    private BodyRewrite startBody(
            ChannelHandlerContext ctx, HttpResponse response, int flags, boolean full, LinkPorts linkPorts) {
        int code = response.status().code();
        // 206 is a byte range of the upstream's representation: rewriting it would corrupt the client's assembly
        if ((flags & HEAD) != 0 || code < 200 || code == 204 || code == 205 || code == 206 || code == 304) {
            return null;
        }
        if (!full && ((flags & NO_CHUNKED) != 0 || HttpVersion.HTTP_1_0.equals(response.protocolVersion()))) {
            return null; // a changed length could not be framed for an HTTP/1.0 client
        }
        HttpHeaders headers = response.headers();
        if (!isHtml(headers.get(HttpHeaderNames.CONTENT_TYPE))) {
            return null;
        }
        String coding = headers.get(HttpHeaderNames.CONTENT_ENCODING);
        if (coding == null || coding.isBlank() || "identity".equalsIgnoreCase(coding.strip())) {
            return new PlainBodyRewrite(httpsReady, linkPorts, ctx.alloc());
        }
        coding = coding.strip();
        if ("gzip".equalsIgnoreCase(coding) || "x-gzip".equalsIgnoreCase(coding)) {
            return new ZlibBodyRewrite(ZlibBodyRewrite.Coding.GZIP, httpsReady, linkPorts, ctx.alloc());
        }
        if ("deflate".equalsIgnoreCase(coding)) {
            return new ZlibBodyRewrite(ZlibBodyRewrite.Coding.DEFLATE, httpsReady, linkPorts, ctx.alloc());
        }
        return null; // br, zstd, stacked codings: we cannot read them, so we leave them alone
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

    private void writeFull(ChannelHandlerContext ctx, FullHttpResponse response, BodyRewrite rewrite,
            ChannelPromise promise) {
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
        if (body.lastChunkUnchanged() && output.readableBytes() == content.content().readableBytes()) {
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
}
