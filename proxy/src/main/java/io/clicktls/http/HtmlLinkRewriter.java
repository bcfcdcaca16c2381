package io.clicktls.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.util.concurrent.FastThreadLocal;
import java.nio.charset.StandardCharsets;
import java.util.function.Predicate;

/**
 * Upgrades {@code http://host} links to {@code https://host} in a body of ASCII-compatible bytes (UTF-8, Latin-1,
 * ...), fed chunk by chunk. A link is upgraded when {@code http} (any case) is not the tail of a longer scheme,
 * is followed by {@code ://} or its JSON-escaped form {@code :\/\/}, then by a host that ends at a delimiter
 * ({@code / ? # " ' < > ) \}, space, tab, CR, LF, or the end of the body), optionally with an explicit port, and
 * the host passes {@code httpsReady}. Which ports qualify, and the https port written instead, is
 * {@link LinkPorts}'s rule. Every other link, including look-alikes such as
 * {@code http://links.shop.com.evil.net}, {@code http://xlinks.shop.com} or {@code http://links.shop.com@evil.net},
 * is left byte for byte. So is an {@code http://} inside another URL, such as a destination's
 * {@code ?return=http://links.shop.com/...}: after any {@code ://} (or {@code :\/\/}) the scan skips to the end of
 * that URL (a quote, {@code <}, {@code >}, {@code )} or white space), since that link belongs to another host.
 *
 * <p>The scan is a byte-level state machine: the output does not depend on where the chunks split, and at most
 * {@link #MAX_HELD_BYTES} bytes of a possible link are held back between chunks. When a chunk needs no change its
 * output is a retained slice of the input, not a copy. No allocation per byte; one host string per distinct
 * candidate link (the last answer is remembered).
 *
 * <p>Not thread-safe: one instance per body, used on that body's event loop. Must not block, and neither may
 * {@code httpsReady}.
 */
public final class HtmlLinkRewriter {

    /**
     * The longest candidate held back between chunks: {@code http:\/\/} (9 bytes), a 253-byte host, {@code :} and
     * a 5-digit port. The byte that decides a candidate is never held.
     */
    public static final int MAX_HELD_BYTES = 9 + LinkSyntax.MAX_HOST_LENGTH + 1 + LinkSyntax.MAX_PORT_DIGITS;

    // Direct chunks are scanned from a copy: a plain array loop beats ByteBuf.forEachByte, whose processor call
    // site Netty's own decoders share (megamorphic). Safe to share per thread: a scan never outlives its call.
    private static final FastThreadLocal<byte[]> SCRATCH = new FastThreadLocal<>() {
        @Override
        protected byte[] initialValue() {
            return new byte[8192];
        }
    };
    private static final int FOUR_SPACES = 0x20202020;
    private static final byte[] NO_HOST = new byte[0];

    private static final int IDLE = 0;
    private static final int H = 1;
    private static final int HT = 2;
    private static final int HTT = 3;
    private static final int HTTP = 4;
    private static final int COLON = 5;
    private static final int SLASH = 6;
    private static final int ESCAPE = 7;
    private static final int ESCAPED_SLASH = 8;
    private static final int SECOND_ESCAPE = 9;
    private static final int HOST = 10;
    private static final int PORT = 11;
    private static final int PORT_DIGITS = 12;

    private static final int CONSUMED = 0;
    private static final int NO_LINK = 1;
    private static final int LINK = 2;

    private final Predicate<String> httpsReady;
    private final LinkPorts ports;
    /** Written after the host of an upgraded link: empty, or {@code :} and the https port. */
    private final byte[] httpsSuffix;

    /** The candidate link so far; always the exact input bytes since the {@code h}. */
    private final byte[] held = new byte[MAX_HELD_BYTES];

    private int heldLength;
    private int state = IDLE;
    private int hostStart;
    private int hostEnd;
    private int port;
    private int portDigits;
    /** Where the candidate began in the current chunk, or -1 when it began in an earlier one. */
    private int candidateStart = -1;
    /** The last four bytes of earlier chunks, the latest in the low byte: what precedes a chunk's first bytes. */
    private int recent = FOUR_SPACES;
    /** Whether the scan is inside a URL that began before ({@code ://} seen, no URL end since). */
    private boolean inUrl;

    private int replacements;
    /** Whether the last {@link #rewrite} returned its input's bytes exactly, nothing changed or held back. */
    private boolean lastUnchanged;

    private byte[] lastHost = NO_HOST;
    private boolean lastHostReady;

    // Per-call output state: while out is null the output is the input from its reader index to contiguousEnd.
    private ByteBuf in;
    private ByteBuf out;
    private ByteBufAllocator alloc;
    private int contiguousEnd;
    private int chunkStart;
    private int idleFrom;

    /**
     * @param httpsReady asked with lower-case host names; must not block
     * @param ports which explicit ports a link may name, and the https port it is upgraded to
     */
    public HtmlLinkRewriter(Predicate<String> httpsReady, LinkPorts ports) {
        this.httpsReady = httpsReady;
        this.ports = ports;
        this.httpsSuffix = ports.httpsSuffix().getBytes(StandardCharsets.US_ASCII);
    }

    /**
     * Rewrites the next chunk. Reads {@code chunk}'s readable bytes without moving its indices or releasing it;
     * the bytes of a possible link at its end are held back until the next call or {@link #finish}.
     *
     * @return a buffer the caller owns (possibly empty, possibly a retained slice of {@code chunk})
     */
    public ByteBuf rewrite(ByteBuf chunk, ByteBufAllocator alloc) {
        int start = chunk.readerIndex();
        int end = chunk.writerIndex();
        lastUnchanged = false;
        if (start == end) {
            return Unpooled.EMPTY_BUFFER;
        }
        this.in = chunk;
        this.alloc = alloc;
        this.contiguousEnd = start;
        this.chunkStart = start;
        this.idleFrom = start;
        try {
            if (chunk.hasArray()) {
                scan(chunk.array(), chunk.arrayOffset(), start, end);
            } else {
                byte[] scratch = SCRATCH.get();
                for (int from = start; from < end; from += scratch.length) {
                    int to = Math.min(end, from + scratch.length);
                    chunk.getBytes(from, scratch, 0, to - from);
                    scan(scratch, -from, from, to);
                }
            }
            if (state == IDLE) {
                emitInput(idleFrom, end);
            }
            candidateStart = -1;
            for (int j = Math.max(start, end - 4); j < end; j++) {
                recent = (recent << 8) | (chunk.getByte(j) & 0xff);
            }
            if (out != null) {
                return out;
            }
            lastUnchanged = contiguousEnd == end;
            return contiguousEnd > start ? chunk.retainedSlice(start, contiguousEnd - start) : Unpooled.EMPTY_BUFFER;
        } catch (RuntimeException e) {
            if (out != null) {
                out.release();
            }
            throw e;
        } finally {
            this.in = null;
            this.out = null;
            this.alloc = null;
        }
    }

    /**
     * Ends the body: a link still held back ends here. The rewriter is then ready for a new body.
     *
     * @return the held-back bytes, possibly upgraded; a buffer the caller owns, possibly empty
     */
    public ByteBuf finish(ByteBufAllocator alloc) {
        if (state == IDLE) {
            return Unpooled.EMPTY_BUFFER;
        }
        boolean link = (state == HOST && heldLength > hostStart) || (state == PORT_DIGITS && ports.upgrades(port));
        if (state == HOST) {
            hostEnd = heldLength;
        }
        this.alloc = alloc;
        this.contiguousEnd = 0;
        try {
            emitCandidate(link && isReady());
            recent = FOUR_SPACES;
            inUrl = false;
            return out;
        } finally {
            this.out = null;
            this.alloc = null;
        }
    }

    /**
     * Whether the last {@link #rewrite} returned the chunk's bytes exactly: nothing upgraded, nothing held back or
     * let out from earlier. The caller may then send the chunk itself.
     */
    public boolean lastChunkUnchanged() {
        return lastUnchanged;
    }

    /**
     * Makes this rewriter ready for another body, as if new: what was held back is dropped, the count of upgraded
     * links starts again, and the remembered answer of {@code httpsReady} is forgotten (it may have changed).
     */
    public void reset() {
        heldLength = 0;
        state = IDLE;
        hostStart = 0;
        hostEnd = 0;
        port = 0;
        portDigits = 0;
        candidateStart = -1;
        recent = FOUR_SPACES;
        inUrl = false;
        replacements = 0;
        lastUnchanged = false;
        lastHost = NO_HOST;
        lastHostReady = false;
    }

    /** How many links were upgraded so far. */
    public int replacements() {
        return replacements;
    }

    /**
     * Scans chunk indexes {@code [from, to)}, whose bytes are {@code bytes[index + delta]}: skips plain text and
     * the rest of URLs in tight loops, and steps the state machine only through candidates.
     */
    private void scan(byte[] bytes, int delta, int from, int to) {
        int i = from;
        while (i < to) {
            if (state != IDLE) {
                int result = step(bytes[i + delta]);
                if (result == CONSUMED) {
                    i++;
                } else {
                    // The byte at i is not part of the candidate: it is scanned again as ordinary input.
                    emitCandidate(result == LINK);
                    idleFrom = i;
                }
                continue;
            }
            int j = i + delta;
            int limit = to + delta;
            if (inUrl) {
                while (j < limit && !LinkSyntax.isUrlEnd(bytes[j])) {
                    j++;
                }
                if (j < limit) {
                    inUrl = false;
                }
                i = j - delta + 1;
                continue;
            }
            byte b = 0;
            while (j < limit) {
                b = bytes[j];
                if ((b | 0x20) == 'h' || b == '/') {
                    break;
                }
                j++;
            }
            if (j == limit) {
                return;
            }
            int found = j - delta;
            i = found + 1;
            if (b == '/') {
                inUrl = endsSchemeSeparator(bytes, delta, from, found);
            } else if (!LinkSyntax.isSchemeByte(byteBefore(bytes, delta, from, found, 1))
                    && (j + 5 > limit || startsHttpColon(bytes, j))) {
                // ("have", "here": most words are ruled out above without entering the state machine; a word cut
                // by the window's end enters it and fails there, which leaves the same bytes to rescan)
                emitInput(idleFrom, found);
                held[0] = b;
                heldLength = 1;
                candidateStart = found;
                state = H;
            }
        }
    }

    private static boolean startsHttpColon(byte[] bytes, int h) {
        return (bytes[h + 1] | 0x20) == 't'
                && (bytes[h + 2] | 0x20) == 't'
                && (bytes[h + 3] | 0x20) == 'p'
                && bytes[h + 4] == ':';
    }

    /** The byte {@code back} bytes before chunk index {@code index}: from the window, the chunk or earlier chunks. */
    private byte byteBefore(byte[] bytes, int delta, int windowFrom, int index, int back) {
        int at = index - back;
        if (at >= windowFrom) {
            return bytes[at + delta];
        }
        if (at >= chunkStart) {
            return in.getByte(at);
        }
        return (byte) (recent >>> (8 * (chunkStart - at - 1)));
    }

    /** Whether the slash at {@code index} completes {@code ://} or its JSON-escaped form {@code :\/\/}. */
    private boolean endsSchemeSeparator(byte[] bytes, int delta, int windowFrom, int index) {
        byte one = byteBefore(bytes, delta, windowFrom, index, 1);
        byte two = byteBefore(bytes, delta, windowFrom, index, 2);
        if (one == '/') {
            return two == ':';
        }
        return one == '\\'
                && two == '/'
                && byteBefore(bytes, delta, windowFrom, index, 3) == '\\'
                && byteBefore(bytes, delta, windowFrom, index, 4) == ':';
    }

    private int step(byte b) {
        switch (state) {
            case H:
                return expect(b == 't' || b == 'T', HT, b);
            case HT:
                return expect(b == 't' || b == 'T', HTT, b);
            case HTT:
                return expect(b == 'p' || b == 'P', HTTP, b);
            case HTTP:
                return expect(b == ':', COLON, b);
            case COLON:
                if (b == '\\') {
                    return consume(ESCAPE, b);
                }
                return expect(b == '/', SLASH, b);
            case SLASH:
            case SECOND_ESCAPE:
                if (b != '/') {
                    return NO_LINK;
                }
                consume(HOST, b);
                hostStart = heldLength;
                return CONSUMED;
            case ESCAPE:
                return expect(b == '/', ESCAPED_SLASH, b);
            case ESCAPED_SLASH:
                return expect(b == '\\', SECOND_ESCAPE, b);
            case HOST:
                if (LinkSyntax.isHostByte(b)) {
                    return expect(heldLength - hostStart < LinkSyntax.MAX_HOST_LENGTH, HOST, b);
                }
                hostEnd = heldLength;
                if (b == ':') {
                    port = 0;
                    portDigits = 0;
                    return consume(PORT, b);
                }
                return LinkSyntax.isDelimiter(b) && isReady() ? LINK : NO_LINK;
            case PORT:
            case PORT_DIGITS:
                if (LinkSyntax.extendsPort(port, portDigits, b)) {
                    port = port * 10 + (b - '0');
                    portDigits++;
                    return consume(PORT_DIGITS, b);
                }
                return state == PORT_DIGITS && LinkSyntax.isDelimiter(b) && ports.upgrades(port) && isReady()
                        ? LINK
                        : NO_LINK;
            default:
                throw new IllegalStateException("state " + state);
        }
    }

    private int expect(boolean matches, int next, byte b) {
        return matches ? consume(next, b) : NO_LINK;
    }

    private int consume(int next, byte b) {
        held[heldLength++] = b;
        state = next;
        return CONSUMED;
    }

    /** Whether the host in {@code held[hostStart, hostEnd)} may be linked over https. */
    private boolean isReady() {
        int length = hostEnd - hostStart;
        if (!LinkSyntax.isWellFormedHost(held, hostStart, length)) {
            return false;
        }
        if (sameAsLastHost(length)) {
            return lastHostReady;
        }
        byte[] host = new byte[length];
        for (int i = 0; i < length; i++) {
            byte b = held[hostStart + i];
            host[i] = LinkSyntax.isAsciiUpper(b) ? (byte) (b | 0x20) : b;
        }
        lastHostReady = httpsReady.test(new String(host, StandardCharsets.US_ASCII));
        lastHost = host;
        return lastHostReady;
    }

    private boolean sameAsLastHost(int length) {
        if (length != lastHost.length) {
            return false;
        }
        for (int i = 0; i < length; i++) {
            byte b = held[hostStart + i];
            if ((LinkSyntax.isAsciiUpper(b) ? (byte) (b | 0x20) : b) != lastHost[i]) {
                return false;
            }
        }
        return true;
    }

    private void emitCandidate(boolean link) {
        if (link) {
            // "http" as written, an "s" in the case of its "p", then "://" or ":\/\/", the host and the https port
            emitHeld(0, 4);
            ensureOut().writeByte(held[3] == 'P' ? 'S' : 's');
            emitHeld(4, hostEnd);
            ensureOut().writeBytes(httpsSuffix);
            replacements++;
        } else if (candidateStart >= 0) {
            emitInput(candidateStart, candidateStart + heldLength);
        } else {
            emitHeld(0, heldLength);
        }
        // once "http://" is complete, the rest up to the URL's end is that URL's, upgraded or not
        inUrl = state >= HOST;
        state = IDLE;
        heldLength = 0;
        candidateStart = -1;
    }

    private void emitInput(int from, int to) {
        if (from == to) {
            return;
        }
        if (out == null && from == contiguousEnd) {
            contiguousEnd = to;
        } else {
            ensureOut().writeBytes(in, from, to - from);
        }
    }

    private void emitHeld(int from, int to) {
        ensureOut().writeBytes(held, from, to - from);
    }

    private ByteBuf ensureOut() {
        if (out == null) {
            int prefix = in == null ? 0 : contiguousEnd - in.readerIndex();
            int capacity = (in == null ? 0 : in.readableBytes()) + heldLength + 16;
            out = alloc.buffer(capacity);
            if (prefix > 0) {
                out.writeBytes(in, in.readerIndex(), prefix);
            }
        }
        return out;
    }
}
