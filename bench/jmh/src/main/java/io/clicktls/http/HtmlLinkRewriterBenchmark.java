package io.clicktls.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.zip.GZIPOutputStream;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Rewrites one HTML page of about {@link #PAGE_BYTES} bytes per operation, fed in 8 KiB direct chunks as they come
 * off the network. MB/s = ops/s × the page size printed at setup / 10⁶. The page repeats one block, so it gzips far
 * better (about 60:1) than a real page would: the gzip numbers flatter inflating and deflating.
 * {@code tracked}: one upgraded link per ~1.2 KB; {@code untracked}: the same page, no host ready (the zero-copy
 * path). {@code gzip*} benchmarks include inflating and compressing again (level 1).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class HtmlLinkRewriterBenchmark {

    static final int PAGE_BYTES = 256 * 1024;
    private static final int CHUNK = 8192;

    @Param({"tracked", "untracked"})
    public String links;

    private final ByteBufAllocator alloc = PooledByteBufAllocator.DEFAULT;
    private final List<ByteBuf> plainChunks = new ArrayList<>();
    private final List<ByteBuf> gzipChunks = new ArrayList<>();
    private Predicate<String> ready;

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        ready = "tracked".equals(links) ? Set.of("links.shop.com")::contains : host -> false;
        byte[] page = page();
        split(page, plainChunks);
        ByteArrayOutputStream gzipped = new ByteArrayOutputStream();
        try (GZIPOutputStream out = new GZIPOutputStream(gzipped)) {
            out.write(page);
        }
        split(gzipped.toByteArray(), gzipChunks);
        System.out.printf("%npage: %d bytes html, %d bytes gzipped%n", page.length, gzipped.size());
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        plainChunks.forEach(ByteBuf::release);
        gzipChunks.forEach(ByteBuf::release);
    }

    @Benchmark
    public int plain() {
        HtmlLinkRewriter rewriter = new HtmlLinkRewriter(ready, LinkPorts.STANDARD);
        int bytes = 0;
        for (ByteBuf chunk : plainChunks) {
            ByteBuf out = rewriter.rewrite(chunk, alloc);
            bytes += out.readableBytes();
            out.release();
        }
        ByteBuf tail = rewriter.finish(alloc);
        bytes += tail.readableBytes();
        tail.release();
        return bytes + rewriter.replacements();
    }

    @Benchmark
    public int gzip() {
        ZlibBodyRewrite rewrite = new ZlibBodyRewrite(ZlibBodyRewrite.Coding.GZIP, ready, LinkPorts.STANDARD, alloc);
        try {
            int bytes = 0;
            for (ByteBuf chunk : gzipChunks) {
                ByteBuf out = rewrite.rewrite(chunk);
                bytes += out.readableBytes();
                out.release();
            }
            ByteBuf tail = rewrite.finish();
            bytes += tail.readableBytes();
            tail.release();
            return bytes + rewrite.replacements();
        } finally {
            rewrite.close();
        }
    }

    private void split(byte[] bytes, List<ByteBuf> into) {
        for (int from = 0; from < bytes.length; from += CHUNK) {
            int length = Math.min(CHUNK, bytes.length - from);
            into.add(alloc.directBuffer(length).writeBytes(bytes, from, length));
        }
    }

    /** A newsletter-like page: text, styles, images and destination links, with a tracked link now and then. */
    static byte[] page() {
        StringBuilder html = new StringBuilder(PAGE_BYTES + 4096);
        html.append("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Your preferences</title>")
                .append("<style>body{font-family:Helvetica,Arial,sans-serif}h1{color:#333}</style></head><body>\n");
        for (int i = 0; html.length() < PAGE_BYTES - 2048; i++) {
            html.append("<table role=\"presentation\" width=\"100%\"><tr><td style=\"padding:12px;\">")
                    .append("<h2>The highlights of this month, chosen for you — ünïcödé ✓</h2>")
                    .append("<p>Hello there, thanks for shopping with us. We hope you had a wonderful time and ")
                    .append("that the things you ordered have reached you in good health. Here is what is new.</p>")
                    .append("<img src=\"https://cdn.shop.com/img/hero-").append(i).append(".jpg\" alt=\"hero\">")
                    .append("<a href=\"http://links.shop.com/ls/click?upn=u001.").append(i)
                    .append("-2BhQ3zWcLmN8pRt-3D-3D\" style=\"color:#0066cc\">Shop the collection</a> ")
                    .append("<a href=\"https://www.shop.com/collections/new?utm_source=newsletter&amp;utm_medium=")
                    .append("email\">Browse</a></td></tr></table>\n");
        }
        html.append("<p><a href=\"http://links.shop.com/asm/unsubscribe/?user_id=42\">Unsubscribe</a></p>")
                .append("</body></html>\n");
        return html.toString().getBytes(StandardCharsets.UTF_8);
    }
}
