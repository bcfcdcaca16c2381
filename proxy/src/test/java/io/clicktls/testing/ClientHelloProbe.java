package io.clicktls.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/**
 * A bare TLS ClientHello sent from a chosen loopback source, for tests of what the proxy decides at certificate
 * selection (on-demand budgets, refusals): no crypto follows, the test only looks at whether a ServerHello came.
 */
public final class ClientHelloProbe {

    private ClientHelloProbe() {}

    /**
     * Connects from {@code source} to {@code 127.0.0.1:port}, sends {@code firstBytes} and reads the first byte of the
     * answer: true when the proxy closed or answered with a TLS alert record rather than a ServerHello.
     */
    public static boolean refused(String source, int port, byte[] firstBytes, int readTimeoutMillis)
            throws IOException {
        try (Socket socket = new Socket()) {
            socket.bind(new InetSocketAddress(source, 0));
            socket.connect(new InetSocketAddress("127.0.0.1", port), 2000);
            socket.setSoTimeout(readTimeoutMillis);
            socket.getOutputStream().write(firstBytes);
            socket.getOutputStream().flush();
            int type = socket.getInputStream().read();
            return type == -1 || type == 21; // closed, or a TLS alert record
        }
    }

    /** A minimal TLS 1.2-style ClientHello with SNI {@code name}: enough to reach certificate selection. */
    public static byte[] clientHello(String name) {
        byte[] host = name.getBytes(StandardCharsets.US_ASCII);
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        body.writeBytes(new byte[] {3, 3});
        body.writeBytes(new byte[32]); // random
        body.write(0); // session id
        body.writeBytes(new byte[] {0, 4, 0x13, 0x01, (byte) 0xc0, 0x2f}); // cipher suites
        body.writeBytes(new byte[] {1, 0}); // compression: null
        ByteArrayOutputStream sni = new ByteArrayOutputStream();
        writeShort(sni, host.length + 3);
        sni.write(0);
        writeShort(sni, host.length);
        sni.writeBytes(host);
        ByteArrayOutputStream extensions = new ByteArrayOutputStream();
        writeShort(extensions, 0);
        writeShort(extensions, sni.size());
        extensions.writeBytes(sni.toByteArray());
        writeShort(body, extensions.size());
        body.writeBytes(extensions.toByteArray());
        ByteArrayOutputStream record = new ByteArrayOutputStream();
        record.writeBytes(new byte[] {22, 3, 1});
        writeShort(record, body.size() + 4);
        record.writeBytes(new byte[] {1, 0}); // ClientHello, 3-byte length's high byte
        writeShort(record, body.size());
        record.writeBytes(body.toByteArray());
        return record.toByteArray();
    }

    private static void writeShort(ByteArrayOutputStream out, int value) {
        out.write(value >> 8);
        out.write(value);
    }
}
