package io.clicktls.config;

import static io.clicktls.config.Binding.quote;

import io.clicktls.config.YamlTree.ListNode;
import io.clicktls.config.YamlTree.Node;
import io.clicktls.config.YamlTree.ScalarNode;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;

/** {@code listen:} the https, http and admin listeners, and {@code proxy_protocol}. */
final class ListenReader {

    private static final List<String> KEYS = List.of("https", "http", "admin", "proxy_protocol");
    private static final List<String> PROXY_PROTOCOL_KEYS = List.of("from");
    static final String RANGES_EXPECTED = "a list of load balancer addresses such as [10.0.0.0/8, 2001:db8::/32]";
    static final String RANGE_EXPECTED = "an IP address or CIDR block such as 10.0.0.0/8, 192.0.2.7 or 2001:db8::/32";

    private ListenReader() {}

    static Listen read(Section listen) {
        listen.allowOnly(KEYS);
        Listen defaults = Listen.DEFAULTS;
        return new Listen(
                listen.endpoint("https", defaults.https()),
                listen.endpoint("http", defaults.http()),
                listen.endpoint("admin", defaults.admin()),
                proxyProtocol(listen.section("proxy_protocol")));
    }

    /** {@code proxy_protocol.from}: absent or an empty section is off; an empty list is a mistake, reported. */
    private static ProxyProtocol proxyProtocol(Section section) {
        section.allowOnly(PROXY_PROTOCOL_KEYS);
        Binding binding = section.binding();
        String path = section.pathOf("from");
        ListNode list = section.list("from", RANGES_EXPECTED);
        if (list == null) {
            return ProxyProtocol.OFF;
        }
        if (list.items().isEmpty()) {
            binding.expected(
                    list.position(), path + ": empty (leave proxy_protocol out to read no headers)", RANGES_EXPECTED);
            return ProxyProtocol.OFF;
        }
        List<AddressRange> ranges = new ArrayList<>();
        for (int i = 0; i < list.items().size(); i++) {
            Node item = list.items().get(i);
            String itemPath = path + "[" + i + "]";
            if (!(item instanceof ScalarNode scalar) || scalar.blank()) {
                binding.badShape(item, itemPath, RANGE_EXPECTED);
                continue;
            }
            if (scalar.alias()) {
                continue;
            }
            String problem = rangeProblem(scalar.text());
            if (problem != null) {
                binding.expected(
                        scalar.position(), itemPath + ": " + quote(scalar.text()) + " " + problem, RANGE_EXPECTED);
            } else {
                ranges.add(range(scalar.text()));
            }
        }
        return ranges.isEmpty() ? ProxyProtocol.OFF : new ProxyProtocol(ranges);
    }

    /** Why {@code text} is not an address or CIDR block, or {@code null} when it is one. */
    static String rangeProblem(String text) {
        int slash = text.indexOf('/');
        String host = slash < 0 ? text : text.substring(0, slash);
        boolean v4 = ValueSyntax.ipv4Literal(host);
        if (!v4 && !ValueSyntax.ipv6Literal(host)) {
            return "is not an IP address (host names are not resolved here)";
        }
        if (!v4 && parse(host) instanceof Inet4Address) {
            return "is an IPv4-mapped IPv6 address: write it as IPv4";
        }
        if (slash < 0) {
            return null;
        }
        String prefix = text.substring(slash + 1);
        int bits = v4 ? 32 : 128;
        if (!ValueSyntax.allDigits(prefix) || prefix.length() > 3 || Integer.parseInt(prefix) > bits) {
            return "has a prefix length other than 0-" + bits;
        }
        return null;
    }

    /** A range that {@link #rangeProblem} accepted. */
    private static AddressRange range(String text) {
        int slash = text.indexOf('/');
        InetAddress address = parse(slash < 0 ? text : text.substring(0, slash));
        int bits = address.getAddress().length * 8;
        return new AddressRange(address, slash < 0 ? bits : Integer.parseInt(text.substring(slash + 1)));
    }

    /** A literal checked by {@link ValueSyntax}: parsed, never looked up. */
    private static InetAddress parse(String literal) {
        try {
            return InetAddress.getByName(literal);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("not an IP literal: " + literal, e);
        }
    }
}
