package io.clicktls.tls;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * Reads the server name (SNI) and ALPN protocols from a TLS ClientHello (RFC 8446 section 4.1.2, RFC 6066, RFC 7301).
 * The input is hostile: every length is checked against what is there, duplicates and out-of-range values are
 * refused, and the result for anything malformed is {@link Optional#empty()}; no exception escapes. Allocation is
 * bounded by the input and by {@link #MAX_HANDSHAKE_LENGTH}. The buffers' indexes are left as they were.
 *
 * <p>Stateless and thread-safe; runs on event loops.
 */
public final class ClientHelloParser {

    /** The longest ClientHello accepted, as Netty's own limit: no real client comes near it. */
    public static final int MAX_HANDSHAKE_LENGTH = 64 * 1024;

    private static final int RECORD_HEADER = 5;
    private static final int HANDSHAKE_HEADER = 4;
    private static final int CONTENT_TYPE_HANDSHAKE = 22;
    private static final int MAX_RECORD_LENGTH = 1 << 14; // TLSPlaintext.length, RFC 8446 section 5.1
    private static final int CLIENT_HELLO = 1;
    private static final int EXTENSION_SERVER_NAME = 0;
    private static final int EXTENSION_ALPN = 16;
    private static final int NAME_TYPE_HOST_NAME = 0;
    private static final int MAX_SERVER_NAME = 255;

    /** Thrown inside the parser only; stackless, so a flood of bad hellos costs no stack traces. */
    private static final class Malformed extends RuntimeException {
        private static final Malformed INSTANCE = new Malformed();

        private Malformed() {
            super("malformed ClientHello", null, false, false);
        }
    }

    private ClientHelloParser() {}

    /**
     * Parses TLS records as they arrive on the wire (record headers, then a handshake message that may span several
     * records). Bytes after the ClientHello are ignored.
     */
    public static Optional<ClientHello> parseRecords(ByteBuf in) {
        try {
            return Optional.of(records(in));
        } catch (Malformed | IndexOutOfBoundsException e) {
            // IndexOutOfBoundsException only as a last line of defence: every read is bounds-checked before.
            return Optional.empty();
        }
    }

    /** Parses a ClientHello body: what follows the handshake header, as {@code SslClientHelloHandler} passes it. */
    public static Optional<ClientHello> parseBody(ByteBuf body) {
        if (body == null) {
            return Optional.empty();
        }
        try {
            return Optional.of(body(body, body.readerIndex(), body.writerIndex()));
        } catch (Malformed | IndexOutOfBoundsException e) {
            return Optional.empty();
        }
    }

    private static ClientHello records(ByteBuf in) {
        int position = in.readerIndex();
        int end = in.writerIndex();
        ByteBuf joined = null;
        while (true) {
            require(end - position >= RECORD_HEADER);
            int length = in.getUnsignedShort(position + 3);
            require(in.getUnsignedByte(position) == CONTENT_TYPE_HANDSHAKE);
            require(in.getUnsignedByte(position + 1) == 3);
            require(length > 0 && length <= MAX_RECORD_LENGTH && end - position - RECORD_HEADER >= length);
            int fragment = position + RECORD_HEADER;
            if (joined == null
                    && length >= HANDSHAKE_HEADER
                    && HANDSHAKE_HEADER + (long) in.getUnsignedMedium(fragment + 1) <= length) {
                return handshake(in, fragment, fragment + length); // the usual case: one record, no copy
            }
            if (joined == null) {
                joined = Unpooled.buffer(Math.min(end - position, 1024), MAX_HANDSHAKE_LENGTH + HANDSHAKE_HEADER);
            }
            require(joined.maxWritableBytes() >= length);
            joined.writeBytes(in, fragment, length);
            position = fragment + length;
            if (joined.readableBytes() >= HANDSHAKE_HEADER) {
                int messageLength = joined.getUnsignedMedium(1);
                require(messageLength <= MAX_HANDSHAKE_LENGTH);
                if (joined.readableBytes() >= HANDSHAKE_HEADER + messageLength) {
                    return handshake(joined, 0, joined.readableBytes());
                }
            }
        }
    }

    private static ClientHello handshake(ByteBuf in, int start, int end) {
        require(end - start >= HANDSHAKE_HEADER && in.getUnsignedByte(start) == CLIENT_HELLO);
        int length = in.getUnsignedMedium(start + 1);
        require(length <= MAX_HANDSHAKE_LENGTH && end - start - HANDSHAKE_HEADER >= length);
        return body(in, start + HANDSHAKE_HEADER, start + HANDSHAKE_HEADER + length);
    }

    private static ClientHello body(ByteBuf in, int start, int end) {
        int position = start;
        require(end - position >= 2 + 32 + 1);
        require(in.getUnsignedByte(position) == 3); // legacy_version: 3.x
        position += 2 + 32; // legacy_version, random
        int sessionId = in.getUnsignedByte(position++);
        require(sessionId <= 32 && end - position >= sessionId);
        position += sessionId;
        require(end - position >= 2);
        int cipherSuites = in.getUnsignedShort(position);
        position += 2;
        require(cipherSuites >= 2 && cipherSuites % 2 == 0 && end - position >= cipherSuites);
        position += cipherSuites;
        require(end - position >= 1);
        int compressionMethods = in.getUnsignedByte(position++);
        require(compressionMethods >= 1 && end - position >= compressionMethods);
        position += compressionMethods;
        if (position == end) {
            return new ClientHello(null, List.of()); // no extensions at all: allowed before TLS 1.3
        }
        require(end - position >= 2);
        int extensionsLength = in.getUnsignedShort(position);
        position += 2;
        require(end - position == extensionsLength);

        String serverName = null;
        List<String> alpn = List.of();
        // RFC 8446: at most one extension of each type. Checked once all are read, on a sorted array: no boxing and
        // no hash set per connection, and O(n log n) however many extensions a hostile hello packs in.
        int[] types = new int[extensionsLength / 4];
        int count = 0;
        while (position < end) {
            require(end - position >= 4);
            int type = in.getUnsignedShort(position);
            int length = in.getUnsignedShort(position + 2);
            position += 4;
            require(end - position >= length);
            types[count++] = type;
            if (type == EXTENSION_SERVER_NAME) {
                serverName = serverName(in, position, position + length);
            } else if (type == EXTENSION_ALPN) {
                alpn = alpn(in, position, position + length);
            }
            position += length;
        }
        Arrays.sort(types, 0, count);
        for (int i = 1; i < count; i++) {
            require(types[i] != types[i - 1]);
        }
        return new ClientHello(serverName, alpn);
    }

    private static String serverName(ByteBuf in, int start, int end) {
        require(end - start >= 2 && in.getUnsignedShort(start) == end - start - 2);
        String hostName = null;
        int position = start + 2;
        require(position < end);
        while (position < end) {
            require(end - position >= 3);
            int nameType = in.getUnsignedByte(position);
            int length = in.getUnsignedShort(position + 1);
            position += 3;
            require(nameType == NAME_TYPE_HOST_NAME && hostName == null);
            require(length >= 1 && length <= MAX_SERVER_NAME && end - position >= length);
            for (int i = position; i < position + length; i++) {
                int c = in.getUnsignedByte(i);
                require(c > 0x20 && c < 0x7f);
            }
            hostName = in.toString(position, length, StandardCharsets.US_ASCII);
            position += length;
        }
        return hostName;
    }

    private static List<String> alpn(ByteBuf in, int start, int end) {
        require(end - start >= 2 && in.getUnsignedShort(start) == end - start - 2);
        int position = start + 2;
        require(position < end);
        List<String> protocols = new ArrayList<>();
        while (position < end) {
            int length = in.getUnsignedByte(position++);
            require(length >= 1 && end - position >= length);
            protocols.add(in.toString(position, length, StandardCharsets.ISO_8859_1));
            position += length;
        }
        return protocols;
    }

    private static void require(boolean condition) {
        if (!condition) {
            throw Malformed.INSTANCE;
        }
    }
}
