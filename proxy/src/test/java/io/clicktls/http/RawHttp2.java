package io.clicktls.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http2.DefaultHttp2HeadersDecoder;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2Headers;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;

/**
 * An HTTP/2 client at the level of frames, over a TLS socket that negotiated {@code h2}: it sends exactly the bytes
 * a test asks for (any {@code :path}, floods of control frames), which no well-behaved client library would. The
 * request header block is HPACK literals without indexing or Huffman coding, so every byte of a value goes out as
 * given; responses are decoded with Netty's HPACK decoder.
 */
final class RawHttp2 implements AutoCloseable {

    static final int DATA = 0;
    static final int HEADERS = 1;
    static final int PRIORITY = 2;
    static final int RST_STREAM = 3;
    static final int SETTINGS = 4;
    static final int PING = 6;
    static final int GOAWAY = 7;
    static final int WINDOW_UPDATE = 8;
    static final int CONTINUATION = 9;

    static final int ENHANCE_YOUR_CALM = 0xb;

    /** What came back on a connection: the first response's status and body, and how the connection ended. */
    record Outcome(int status, byte[] body, Integer resetCode, Integer goAwayCode, boolean closed) {

        String text() {
            return new String(body, StandardCharsets.ISO_8859_1);
        }
    }

    private final SSLSocket socket;
    private final OutputStream out;
    private final DataInputStream in;
    private final DefaultHttp2HeadersDecoder decoder = new DefaultHttp2HeadersDecoder(false);

    private RawHttp2(SSLSocket socket) throws IOException {
        this.socket = socket;
        this.out = socket.getOutputStream();
        this.in = new DataInputStream(socket.getInputStream());
    }

    /** Connects with ALPN {@code h2} and sends the preface and an empty SETTINGS frame. */
    static RawHttp2 connect(int port, String serverName) throws Exception {
        return connect(ProxyFixture.openTls(port, serverName));
    }

    /** As {@link #connect(int, String)}, over a TLS socket connected (not yet handshaken) by the caller. */
    static RawHttp2 connect(SSLSocket socket) throws Exception {
        SSLParameters parameters = socket.getSSLParameters();
        parameters.setApplicationProtocols(new String[] {"h2"});
        socket.setSSLParameters(parameters);
        socket.startHandshake();
        if (!"h2".equals(socket.getApplicationProtocol())) {
            socket.close();
            throw new IllegalStateException("h2 not negotiated: " + socket.getApplicationProtocol());
        }
        socket.setSoTimeout(5000);
        RawHttp2 client = new RawHttp2(socket);
        client.out.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        client.frame(SETTINGS, 0, 0, new byte[0]);
        client.out.flush();
        return client;
    }

    /**
     * Sends a GET on stream {@code streamId} with these fields (pseudo-headers first, as given; each value one byte
     * per char) and END_STREAM.
     */
    void get(int streamId, List<String[]> fields) throws IOException {
        ByteArrayOutputStream block = new ByteArrayOutputStream();
        for (String[] field : fields) {
            block.write(0x00); // literal header field without indexing, new name
            string(block, field[0]);
            string(block, field[1]);
        }
        byte[] bytes = block.toByteArray();
        int max = 16_384;
        int first = Math.min(bytes.length, max);
        frame(HEADERS, bytes.length <= max ? 0x5 : 0x1, streamId, slice(bytes, 0, first));
        for (int offset = first; offset < bytes.length; offset += max) {
            int n = Math.min(max, bytes.length - offset);
            frame(CONTINUATION, offset + n == bytes.length ? 0x4 : 0, streamId, slice(bytes, offset, n));
        }
        out.flush();
    }

    static List<String[]> request(String authority, String path) {
        List<String[]> fields = new ArrayList<>();
        fields.add(new String[] {":method", "GET"});
        fields.add(new String[] {":scheme", "https"});
        fields.add(new String[] {":authority", authority});
        fields.add(new String[] {":path", path});
        return fields;
    }

    void frame(int type, int flags, int streamId, byte[] payload) throws IOException {
        byte[] head = {
            (byte) (payload.length >>> 16),
            (byte) (payload.length >>> 8),
            (byte) payload.length,
            (byte) type,
            (byte) flags,
            (byte) (streamId >>> 24),
            (byte) (streamId >>> 16),
            (byte) (streamId >>> 8),
            (byte) streamId
        };
        out.write(head);
        out.write(payload);
    }

    /** Sends {@code bytes} as they are (frames a test put together) and flushes. */
    void write(byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
    }

    void flush() throws IOException {
        out.flush();
    }

    /** The payload of a WINDOW_UPDATE frame. */
    static byte[] windowUpdate(int increment) {
        return uint32(increment);
    }

    /** The payload of a RST_STREAM frame. */
    static byte[] reset(int errorCode) {
        return uint32(errorCode);
    }

    private static byte[] uint32(int value) {
        return new byte[] {(byte) (value >>> 24), (byte) (value >>> 16), (byte) (value >>> 8), (byte) value};
    }

    /**
     * Reads frames until stream {@code streamId} ends (END_STREAM or RST_STREAM), a GOAWAY, the end of the connection
     * or a read timeout; server SETTINGS are acknowledged as a client does.
     */
    Outcome readResponse(int streamId) throws IOException {
        int status = 0;
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        while (true) {
            Frame frame;
            try {
                frame = readFrame();
            } catch (EOFException | SocketTimeoutException e) {
                return new Outcome(status, body.toByteArray(), null, null, e instanceof EOFException);
            } catch (IOException e) {
                return new Outcome(status, body.toByteArray(), null, null, true);
            }
            switch (frame.type) {
                case SETTINGS -> {
                    if ((frame.flags & 0x1) == 0) {
                        frame(SETTINGS, 0x1, 0, new byte[0]);
                        out.flush();
                    }
                }
                case HEADERS -> {
                    if (frame.streamId == streamId) {
                        Http2Headers headers = decode(frame);
                        if (headers.status() != null && status == 0) {
                            status = Integer.parseInt(headers.status().toString());
                        }
                        if ((frame.flags & 0x1) != 0) {
                            return new Outcome(status, body.toByteArray(), null, null, false);
                        }
                    } else {
                        decode(frame);
                    }
                }
                case DATA -> {
                    if (frame.streamId == streamId) {
                        body.write(frame.payload);
                        if ((frame.flags & 0x1) != 0) {
                            return new Outcome(status, body.toByteArray(), null, null, false);
                        }
                    }
                }
                case RST_STREAM -> {
                    if (frame.streamId == streamId) {
                        return new Outcome(status, body.toByteArray(), code(frame.payload, 0), null, false);
                    }
                }
                case GOAWAY -> {
                    return new Outcome(status, body.toByteArray(), null, code(frame.payload, 4), false);
                }
                default -> {}
            }
        }
    }

    /** Reads until the connection ends; the error code of the last GOAWAY seen, or {@code null}. */
    Integer readUntilClosed() {
        Integer goAway = null;
        while (true) {
            try {
                Frame frame = readFrame();
                if (frame.type == GOAWAY) {
                    goAway = code(frame.payload, 4);
                }
            } catch (IOException e) {
                return goAway;
            }
        }
    }

    private Http2Headers decode(Frame frame) throws IOException {
        int offset = 0;
        int padding = 0;
        if ((frame.flags & 0x8) != 0) {
            padding = frame.payload[0] & 0xFF;
            offset = 1;
        }
        if ((frame.flags & 0x20) != 0) {
            offset += 5;
        }
        ByteBuf block = Unpooled.wrappedBuffer(frame.payload, offset, frame.payload.length - offset - padding);
        try {
            return decoder.decodeHeaders(frame.streamId, block);
        } catch (Http2Exception e) {
            throw new IOException(e);
        }
    }

    private record Frame(int type, int flags, int streamId, byte[] payload) {}

    private Frame readFrame() throws IOException {
        int length = in.readUnsignedByte() << 16 | in.readUnsignedByte() << 8 | in.readUnsignedByte();
        int type = in.readUnsignedByte();
        int flags = in.readUnsignedByte();
        int streamId = in.readInt() & 0x7FFF_FFFF;
        byte[] payload = new byte[length];
        in.readFully(payload);
        return new Frame(type, flags, streamId, payload);
    }

    private static int code(byte[] payload, int offset) {
        return (payload[offset] & 0xFF) << 24
                | (payload[offset + 1] & 0xFF) << 16
                | (payload[offset + 2] & 0xFF) << 8
                | payload[offset + 3] & 0xFF;
    }

    /** An HPACK string literal, not Huffman-coded: a 7-bit prefix length, then one byte per char. */
    private static void string(ByteArrayOutputStream block, String value) {
        byte[] bytes = value.getBytes(StandardCharsets.ISO_8859_1);
        int length = bytes.length;
        if (length < 127) {
            block.write(length);
        } else {
            block.write(127);
            length -= 127;
            while (length >= 128) {
                block.write(length & 0x7F | 0x80);
                length >>>= 7;
            }
            block.write(length);
        }
        block.write(bytes, 0, bytes.length);
    }

    private static byte[] slice(byte[] bytes, int offset, int length) {
        byte[] slice = new byte[length];
        System.arraycopy(bytes, offset, slice, 0, length);
        return slice;
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
