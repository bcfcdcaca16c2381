package io.clicktls.testing;

import java.io.ByteArrayOutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;

/**
 * PROXY protocol headers as a load balancer sends them (HAProxy's proxy-protocol.txt), written byte by byte from the
 * specification for tests that play the balancer on a raw socket.
 */
public final class ProxyHeaders {

    private static final byte[] V2_SIGNATURE = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
    private static final int V2_PROXY = 0x21;
    private static final int V2_LOCAL = 0x20;
    private static final int TCP_OVER_IPV4 = 0x11;
    private static final int TCP_OVER_IPV6 = 0x21;

    private ProxyHeaders() {}

    /** {@code PROXY TCP4|TCP6 source destination sport dport\r\n}. */
    public static byte[] v1(InetSocketAddress source, InetSocketAddress destination) {
        String family = source.getAddress().getAddress().length == 4 ? "TCP4" : "TCP6";
        String line = "PROXY " + family + " " + source.getAddress().getHostAddress() + " "
                + destination.getAddress().getHostAddress() + " " + source.getPort() + " " + destination.getPort()
                + "\r\n";
        return line.getBytes(StandardCharsets.US_ASCII);
    }

    /** A version 2 {@code PROXY} header for a TCP connection from {@code source} to {@code destination}. */
    public static byte[] v2(InetSocketAddress source, InetSocketAddress destination) {
        byte[] from = source.getAddress().getAddress();
        byte[] to = destination.getAddress().getAddress();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(V2_SIGNATURE);
        out.write(V2_PROXY);
        out.write(from.length == 4 ? TCP_OVER_IPV4 : TCP_OVER_IPV6);
        writeShort(out, from.length * 2 + 4);
        out.writeBytes(from);
        out.writeBytes(to);
        writeShort(out, source.getPort());
        writeShort(out, destination.getPort());
        return out.toByteArray();
    }

    /** A version 2 {@code LOCAL} header, as a balancer's health check sends: it names no client. */
    public static byte[] v2Local() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(V2_SIGNATURE);
        out.write(V2_LOCAL);
        out.write(0); // AF_UNSPEC
        writeShort(out, 0);
        return out.toByteArray();
    }

    /** {@code address:port} for a literal address. */
    public static InetSocketAddress at(String literal, int port) {
        try {
            return new InetSocketAddress(InetAddress.getByName(literal), port);
        } catch (java.net.UnknownHostException e) {
            throw new IllegalArgumentException(literal, e);
        }
    }

    private static void writeShort(ByteArrayOutputStream out, int value) {
        out.write(value >>> 8);
        out.write(value & 0xff);
    }
}
