package io.clicktls.http;

import java.nio.charset.StandardCharsets;
import java.util.function.Predicate;

/**
 * Upgrades a {@code Location} header value from {@code http://} to {@code https://} when its host is ready for
 * https and its port is one of the proxy's own ({@link LinkPorts} has the rule). Only absolute URLs with a plain
 * host are touched: another port, userinfo, an IP literal or any byte outside {@code [A-Za-z0-9.-]} in the host
 * leaves the value as it is. Path, query and fragment are kept byte for byte; the port becomes the public https
 * port, written only when it is not 443. Pure and thread-safe.
 */
public final class LocationRewriter {

    private static final String HTTP = "http://";
    private static final String HTTPS = "https://";

    private LocationRewriter() {}

    /**
     * @param httpsReady asked with the lower-case host name; must not block
     * @param ports the proxy's ports: which ones a link may name, and the one it is upgraded to
     * @return the https form, or {@code location} itself (the same instance) when it is left alone
     */
    public static String upgrade(String location, Predicate<String> httpsReady, LinkPorts ports) {
        if (location == null || !location.regionMatches(true, 0, HTTP, 0, HTTP.length())) {
            return location;
        }
        int hostStart = HTTP.length();
        int length = location.length();
        int i = hostStart;
        while (i < length && location.charAt(i) < 0x80 && LinkSyntax.isHostByte(location.charAt(i))) {
            i++;
        }
        int hostEnd = i;
        if (i < length && location.charAt(i) == ':') {
            int port = 0;
            int digits = 0;
            for (i++; i < length && LinkSyntax.extendsPort(port, digits, location.charAt(i)); i++, digits++) {
                port = port * 10 + (location.charAt(i) - '0');
            }
            if (digits == 0 || !ports.upgrades(port)) {
                return location;
            }
        }
        if (i < length && !isPathStart(location.charAt(i))) {
            return location;
        }
        byte[] host = location.substring(hostStart, hostEnd).getBytes(StandardCharsets.US_ASCII);
        if (!LinkSyntax.isWellFormedHost(host, 0, host.length) || !httpsReady.test(lowerCase(host))) {
            return location;
        }
        return HTTPS + location.substring(hostStart, hostEnd) + ports.httpsSuffix() + location.substring(i);
    }

    // Only these end an authority for every URL parser alike; a backslash is a path to browsers but userinfo to
    // some libraries, so a link with one stays as it is.
    private static boolean isPathStart(char c) {
        return c == '/' || c == '?' || c == '#';
    }

    private static String lowerCase(byte[] host) {
        for (int i = 0; i < host.length; i++) {
            if (LinkSyntax.isAsciiUpper(host[i])) {
                host[i] = (byte) (host[i] | 0x20);
            }
        }
        return new String(host, StandardCharsets.US_ASCII);
    }
}
