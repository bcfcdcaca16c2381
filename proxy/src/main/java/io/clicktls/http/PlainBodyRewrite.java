package io.clicktls.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.util.function.Predicate;

/** A body without content coding: the link rewriter alone. */
final class PlainBodyRewrite implements BodyRewrite {

    private final HtmlLinkRewriter rewriter;
    private final LinkPorts ports;
    private final ByteBufAllocator alloc;

    PlainBodyRewrite(Predicate<String> httpsReady, LinkPorts ports, ByteBufAllocator alloc) {
        this.rewriter = new HtmlLinkRewriter(httpsReady, ports);
        this.ports = ports;
        this.alloc = alloc;
    }

    LinkPorts ports() {
        return ports;
    }

    /** Makes this rewrite ready for another body, as if new. */
    void reset() {
        rewriter.reset();
    }

    @Override
    public ByteBuf rewrite(ByteBuf chunk) {
        return rewriter.rewrite(chunk, alloc);
    }

    @Override
    public ByteBuf finish() {
        return rewriter.finish(alloc);
    }

    @Override
    public boolean lastChunkUnchanged() {
        return rewriter.lastChunkUnchanged();
    }

    @Override
    public int replacements() {
        return rewriter.replacements();
    }

    @Override
    public void close() {
        // holds no buffers: the held-back bytes live in a plain array
    }
}
