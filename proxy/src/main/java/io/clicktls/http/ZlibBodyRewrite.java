package io.clicktls.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.compression.DecompressionException;
import java.nio.ByteBuffer;
import java.util.function.Predicate;
import java.util.zip.CRC32;
import java.util.zip.DataFormatException;
import java.util.zip.Deflater;
import java.util.zip.Inflater;

/**
 * A {@code gzip} or {@code deflate} body: inflated in fixed windows, rewritten, and compressed again in the same
 * coding. Recompressing, rather than sending the body inflated, keeps what is queued for the client about as
 * large as what the upstream sent: the inflated bytes only ever exist one window at a time, so a decompression
 * bomb costs CPU (capped by {@link #MAX_INFLATED_BYTES}) but not memory, and the client keeps the bandwidth the
 * upstream chose to save. The output is flushed ({@code SYNC_FLUSH}) at the end of every chunk so a slowly
 * streamed page still reaches the client as it comes.
 *
 * <p>Accepts gzip members one after another (anything after them that is not another member is ignored) and
 * {@code deflate} with or without its zlib wrapper, as servers send both. A truncated stream ends quietly: the
 * client gets what was inflated.
 */
final class ZlibBodyRewrite implements BodyRewrite {

    /** No HTML page worth rewriting is this large; more is a bomb, or a mistake, and costs event-loop time. */
    static final long MAX_INFLATED_BYTES = 16L << 20;

    // Speed over ratio: this runs on an event loop, and tracked-domain pages are small.
    private static final int LEVEL = Deflater.BEST_SPEED;
    private static final int WINDOW = 8192;

    private static final int GZIP_HEADER = 0;
    private static final int GZIP_EXTRA_LENGTH = 1;
    private static final int GZIP_EXTRA = 2;
    private static final int GZIP_NAME = 3;
    private static final int GZIP_COMMENT = 4;
    private static final int GZIP_HEADER_CRC = 5;
    private static final int BODY = 6;
    private static final int GZIP_TRAILER = 7;
    private static final int GZIP_NEXT_MEMBER = 8;
    private static final int DEFLATE_WRAPPER = 9;
    private static final int DONE = 10;

    private static final int FHCRC = 2;
    private static final int FEXTRA = 4;
    private static final int FNAME = 8;
    private static final int FCOMMENT = 16;

    private final BodyCoding coding;
    private final HtmlLinkRewriter rewriter;
    private final ByteBufAllocator alloc;

    private Inflater inflater;
    private int stage;
    private final byte[] header = new byte[10];
    private int headerLength;
    private int flags;
    private int skip;
    private long inflated;
    private final byte[] window = new byte[WINDOW];
    private final ByteBuf windowBuf = Unpooled.wrappedBuffer(window);

    private final Deflater deflater;
    private final CRC32 crc = new CRC32();
    private long plainSize;
    private boolean started;
    private boolean unflushed;
    private boolean closed;

    /** @param coding {@link BodyCoding#GZIP} or {@link BodyCoding#DEFLATE} */
    ZlibBodyRewrite(BodyCoding coding, Predicate<String> httpsReady, LinkPorts ports, ByteBufAllocator alloc) {
        if (coding == BodyCoding.IDENTITY) {
            throw new IllegalArgumentException("an identity body is the plain rewrite's");
        }
        this.coding = coding;
        this.rewriter = new HtmlLinkRewriter(httpsReady, ports);
        this.alloc = alloc;
        this.stage = coding == BodyCoding.GZIP ? GZIP_HEADER : DEFLATE_WRAPPER;
        this.deflater = new Deflater(LEVEL, coding == BodyCoding.GZIP);
    }

    @Override
    public ByteBuf rewrite(ByteBuf chunk) {
        ByteBuf out = alloc.buffer(Math.max(64, chunk.readableBytes() + 64));
        try {
            start(out);
            if (chunk.isReadable()) {
                for (ByteBuffer source : chunk.nioBuffers()) {
                    read(source, out);
                }
            }
            if (unflushed) {
                drainFlushing(out, Deflater.SYNC_FLUSH);
                unflushed = false;
            }
            return out;
        } catch (RuntimeException e) {
            out.release();
            throw e;
        }
    }

    @Override
    public ByteBuf finish() {
        ByteBuf out = alloc.buffer(64);
        try {
            start(out);
            ByteBuf tail = rewriter.finish(alloc);
            try {
                compress(tail, out);
            } finally {
                tail.release();
            }
            deflater.finish();
            while (!deflater.finished()) {
                drain(out, Deflater.NO_FLUSH);
            }
            if (coding == BodyCoding.GZIP) {
                out.writeIntLE((int) crc.getValue());
                out.writeIntLE((int) plainSize);
            }
            return out;
        } catch (RuntimeException e) {
            out.release();
            throw e;
        }
    }

    @Override
    public int replacements() {
        return rewriter.replacements();
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            if (inflater != null) {
                inflater.end();
            }
            deflater.end();
            windowBuf.release();
        }
    }

    private void start(ByteBuf out) {
        if (!started) {
            started = true;
            if (coding == BodyCoding.GZIP) {
                // magic, deflate, no flags, no mtime, no extra flags, OS unknown
                out.writeBytes(new byte[] {0x1f, (byte) 0x8b, 8, 0, 0, 0, 0, 0, 0, (byte) 0xff});
            }
        }
    }

    private void read(ByteBuffer source, ByteBuf out) {
        while (source.hasRemaining()) {
            switch (stage) {
                case BODY -> inflate(source, out);
                case GZIP_HEADER -> {
                    header[headerLength++] = source.get();
                    if (headerLength == header.length) {
                        if (header[0] != 0x1f || header[1] != (byte) 0x8b || header[2] != 8) {
                            throw new DecompressionException("not a gzip member");
                        }
                        flags = header[3];
                        nextHeaderField(GZIP_HEADER);
                    }
                }
                case GZIP_EXTRA_LENGTH -> {
                    // little-endian: the first byte read is the low one
                    skip |= (source.get() & 0xff) << (8 * headerLength++);
                    if (headerLength == 2) {
                        stage = GZIP_EXTRA;
                        if (skip == 0) {
                            nextHeaderField(GZIP_EXTRA);
                        }
                    }
                }
                case GZIP_EXTRA, GZIP_HEADER_CRC, GZIP_TRAILER -> {
                    int n = Math.min(skip, source.remaining());
                    source.position(source.position() + n);
                    skip -= n;
                    if (skip == 0) {
                        if (stage == GZIP_TRAILER) {
                            stage = GZIP_NEXT_MEMBER;
                        } else {
                            nextHeaderField(stage);
                        }
                    }
                }
                case GZIP_NAME, GZIP_COMMENT -> {
                    if (source.get() == 0) {
                        nextHeaderField(stage);
                    }
                }
                case GZIP_NEXT_MEMBER -> {
                    if (source.get(source.position()) == 0x1f) {
                        stage = GZIP_HEADER;
                        headerLength = 0;
                    } else {
                        stage = DONE;
                    }
                }
                case DEFLATE_WRAPPER -> {
                    header[headerLength++] = source.get();
                    if (headerLength == 2) {
                        inflater = new Inflater(!isZlibHeader(header[0], header[1]));
                        stage = BODY;
                        inflate(ByteBuffer.wrap(header, 0, 2), out);
                    }
                }
                case DONE -> source.position(source.limit());
                default -> throw new IllegalStateException("stage " + stage);
            }
        }
    }

    /** Moves past {@code completed} to the next header field the flags announce, or to the body. */
    private void nextHeaderField(int completed) {
        int next = completed + 1;
        while (next < BODY && !announced(next)) {
            next++;
        }
        stage = next;
        headerLength = 0;
        skip = next == GZIP_HEADER_CRC ? 2 : 0;
        if (next == BODY) {
            if (inflater == null) {
                inflater = new Inflater(true);
            } else {
                inflater.reset();
            }
        }
    }

    private boolean announced(int field) {
        return switch (field) {
            case GZIP_EXTRA_LENGTH, GZIP_EXTRA -> (flags & FEXTRA) != 0;
            case GZIP_NAME -> (flags & FNAME) != 0;
            case GZIP_COMMENT -> (flags & FCOMMENT) != 0;
            case GZIP_HEADER_CRC -> (flags & FHCRC) != 0;
            default -> true;
        };
    }

    private static boolean isZlibHeader(byte cmf, byte flg) {
        return (cmf & 0x0f) == 8 && (cmf & 0xf0) <= 0x70 && (((cmf & 0xff) << 8) | (flg & 0xff)) % 31 == 0;
    }

    /** Inflates until {@code source} is used up or the stream ends; the source's position follows the input used. */
    private void inflate(ByteBuffer source, ByteBuf out) {
        inflater.setInput(source);
        while (true) {
            int n;
            try {
                n = inflater.inflate(window);
            } catch (DataFormatException e) {
                throw new DecompressionException("corrupt " + coding + " body: " + e.getMessage(), e);
            }
            if (n > 0) {
                inflated += n;
                if (inflated > MAX_INFLATED_BYTES) {
                    throw new DecompressionException("inflated body exceeds " + MAX_INFLATED_BYTES + " bytes");
                }
                ByteBuf rewritten = rewriter.rewrite(windowBuf.setIndex(0, n), alloc);
                try {
                    compress(rewritten, out);
                } finally {
                    rewritten.release();
                }
            }
            if (inflater.finished()) {
                stage = coding == BodyCoding.GZIP ? GZIP_TRAILER : DONE;
                skip = 8;
                return;
            }
            if (inflater.needsDictionary()) {
                throw new DecompressionException("deflate body needs a preset dictionary");
            }
            if (inflater.needsInput()) {
                return;
            }
        }
    }

    /** Feeds rewritten bytes to the deflater; they must be consumed before the window is inflated into again. */
    private void compress(ByteBuf plain, ByteBuf out) {
        if (!plain.isReadable()) {
            return;
        }
        ByteBuffer input = plain.nioBuffer();
        if (coding == BodyCoding.GZIP) {
            crc.update(input.duplicate());
        }
        plainSize += plain.readableBytes();
        deflater.setInput(input);
        while (!deflater.needsInput()) {
            drain(out, Deflater.NO_FLUSH);
        }
        unflushed = true;
    }

    private void drainFlushing(ByteBuf out, int flush) {
        // per Deflater#deflate: a flush that fills the output space must be repeated with more space
        while (drain(out, flush)) {
            // more to come
        }
    }

    /** @return whether the output space was filled */
    private boolean drain(ByteBuf out, int flush) {
        out.ensureWritable(1024);
        int space = out.writableBytes();
        int n = deflater.deflate(out.nioBuffer(out.writerIndex(), space), flush);
        out.writerIndex(out.writerIndex() + n);
        return n == space;
    }
}
