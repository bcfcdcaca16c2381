package io.clicktls.config;

import java.net.InetAddress;

/**
 * A block of IP addresses written {@code 10.0.0.0/8} or {@code 2001:db8::/32}; a bare address stands for itself
 * ({@code /32} or {@code /128}). Host bits below the prefix are ignored, as routers do.
 *
 * @param address the address as written (an {@link java.net.Inet4Address} or {@link java.net.Inet6Address})
 * @param prefixLength the leading bits that must match: 0–32 for IPv4, 0–128 for IPv6
 */
public record AddressRange(InetAddress address, int prefixLength) {

    public AddressRange {
        int bits = address.getAddress().length * 8;
        if (prefixLength < 0 || prefixLength > bits) {
            throw new IllegalArgumentException("prefix length " + prefixLength + " (expected: 0-" + bits + ")");
        }
    }

    /** Whether {@code candidate} lies in this block; an IPv4 address never lies in an IPv6 block, nor the reverse. */
    public boolean contains(InetAddress candidate) {
        byte[] network = address.getAddress();
        byte[] other = candidate.getAddress();
        if (network.length != other.length) {
            return false;
        }
        int whole = prefixLength / 8;
        for (int i = 0; i < whole; i++) {
            if (network[i] != other[i]) {
                return false;
            }
        }
        int rest = prefixLength % 8;
        if (rest == 0) {
            return true;
        }
        int mask = 0xff << (8 - rest);
        return (network[whole] & mask) == (other[whole] & mask);
    }

    @Override
    public String toString() {
        return address.getHostAddress() + "/" + prefixLength;
    }
}
