package io.clicktls.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.util.ByteProcessor;
import java.nio.charset.StandardCharsets;
import java.util.function.Predicate;

/**
 * Upgrades {@code http://host} links to {@code https://host} in a body of ASCII-compatible bytes (UTF-8, Latin-1,
 * ...), fed chunk by chunk. A link is upgraded when {@code http} (any case) is not the tail of a longer scheme,
 * is followed by {@code ://} or its JSON-escaped form {@code :\/\/}, then by a host that ends at a delimiter
 * ({@code / ? # " ' < > ) \}, space, tab, CR, LF, or the end of the body), optionally with the port {@code :80}
 * (dropped), and the host passes {@code httpsReady}. Every other link, including look-alikes such as
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

    /** The longest candidate held back between chunks: {@code http:\/\/}, a 253-byte host and {@code :80}. */
    public static final int MAX_HELD_BYTES = 10 + LinkSyntax.MAX_HOST_LENGTH + 3;

    private static final ByteProcessor FIND_H_OR_SLASH = b -> (b | 0x20) != 'h' && b != '/';
    private static final ByteProcessor FIND_URL_END = b -> !LinkSyntax.isUrlEnd(b);
    private static final int FOUR_SPACES = 0x20202020;

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
    private static final int PORT_8 = 12;
    private static final int PORT_80 = 13;

    private static final int CONSUMED = 0;
    private static final int NO_LINK = 1;
    private static final int LINK = 2;

    private final Predicate<String> httpsReady;

    /** The candidate link so far; always the exact input bytes since the {@code h}. */
    private final byte[] held = new byte[MAX_HELD_BYTES];
    private int heldLength;
    private int state = IDLE;
    private int hostStart;
    private int hostEnd;
    /** Where the candidate began in the current chunk, or -1 when it began in an earlier one. */
    private int candidateStart = -1;
    /** The last four bytes of earlier chunks, the latest in the low byte: what precedes a chunk's first bytes. */
    private int recent = FOUR_SPACES;
    /** Whether the scan is inside a URL that began before ({@code ://} seen, no URL end since). */
    private boolean inUrl;
    private int replacements;

    private byte[] lastHost = new byte[0];
    private boolean lastHostReady;

    // Per-call output state: while out is null the output is the input from its reader index to contiguousEnd.
    private ByteBuf in;
    private ByteBuf out;
    private ByteBufAllocator alloc;
    private int contiguousEnd;

    /** @param httpsReady asked with lower-case host names; must not block */
    public HtmlLinkRewriter(Predicate<String> httpsReady) {
        this.httpsReady = httpsReady;
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
        if (start == end) {
            return Unpooled.EMPTY_BUFFER;
        }
        this.in = chunk;
        this.alloc = alloc;
        this.contiguousEnd = start;
        try {
            int idleFrom = start;
            int i = start;
            while (i < end) {
                if (state != IDLE) {
                    int result = step(chunk.getByte(i));
                    if (result == CONSUMED) {
                        i++;
                    } else {
                        // The byte at i is not part of the candidate: it is scanned again as ordinary input.
                        emitCandidate(result == LINK);
                        idleFrom = i;
                    }
                } else if (inUrl) {
                    int urlEnd = chunk.forEachByte(i, end - i, FIND_URL_END);
                    if (urlEnd < 0) {
                        break;
                    }
                    inUrl = false;
                    i = urlEnd + 1;
                } else {
                    int found = chunk.forEachByte(i, end - i, FIND_H_OR_SLASH);
                    if (found < 0) {
                        break;
                    }
                    i = found + 1;
                    if (chunk.getByte(found) == '/') {
                        inUrl = endsSchemeSeparator(chunk, start, found);
                    } else if (!LinkSyntax.isSchemeByte(byteBefore(chunk, start, found, 1))) {
                        emitInput(idleFrom, found);
                        held[0] = chunk.getByte(found);
                        heldLength = 1;
                        candidateStart = found;
                        state = H;
                    }
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
        boolean link = (state == HOST && heldLength > hostStart) || state == PORT_80;
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

    /** How many links were upgraded so far. */
    public int replacements() {
        return replacements;
    }

    /** The byte {@code back} bytes before {@code index}, from this chunk or the ones before. */
    private byte byteBefore(ByteBuf chunk, int start, int index, int back) {
        int at = index - back;
        return at >= start ? chunk.getByte(at) : (byte) (recent >>> (8 * (start - at - 1)));
    }

    /** Whether the slash at {@code index} completes {@code ://} or its JSON-escaped form {@code :\/\/}. */
    private boolean endsSchemeSeparator(ByteBuf chunk, int start, int index) {
        byte one = byteBefore(chunk, start, index, 1);
        byte two = byteBefore(chunk, start, index, 2);
        if (one == '/') {
            return two == ':';
        }
        return one == '\\' && two == '/' && byteBefore(chunk, start, index, 3) == '\\'
                && byteBefore(chunk, start, index, 4) == ':';
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
                    return consume(PORT, b);
                }
                return LinkSyntax.isDelimiter(b) && isReady() ? LINK : NO_LINK;
            case PORT:
                return expect(b == '8', PORT_8, b);
            case PORT_8:
                return expect(b == '0', PORT_80, b);
            case PORT_80:
                return LinkSyntax.isDelimiter(b) && isReady() ? LINK : NO_LINK;
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
            // "http" as written, an "s" in the case of its "p", then "://" or ":\/\/" and the host, without ":80".
            emitHeld(0, 4);
            ensureOut().writeByte(held[3] == 'P' ? 'S' : 's');
            emitHeld(4, hostEnd);
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
