package io.clicktls.http;

import java.nio.charset.StandardCharsets;
import java.util.function.Predicate;

/**
 * Upgrades a {@code Location} header value from {@code http://} to {@code https://} when its host is ready for
 * https. Only absolute URLs with a plain host are touched: a port other than 80, userinfo, an IP literal or any
 * byte outside {@code [A-Za-z0-9.-]} in the host leaves the value as it is. Path, query and fragment are kept
 * byte for byte; an explicit {@code :80} is dropped because it would be wrong for https. Pure and thread-safe.
 */
public final class LocationRewriter {

    private static final String HTTP = "http://";
    private static final String HTTPS = "https://";

    private LocationRewriter() {}

    /**
     * @param httpsReady asked with the lower-case host name; must not block
     * @return the https form, or {@code location} itself (the same instance) when it is left alone
     */
    public static String upgrade(String location, Predicate<String> httpsReady) {
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
        int restStart;
        if (i == length || isPathStart(location.charAt(i))) {
            restStart = i;
        } else if (location.charAt(i) == ':' && location.startsWith("80", i + 1)
                && (i + 3 == length || isPathStart(location.charAt(i + 3)))) {
            restStart = i + 3;
        } else {
            return location;
        }
        byte[] host = location.substring(hostStart, hostEnd).getBytes(StandardCharsets.US_ASCII);
        if (!LinkSyntax.isWellFormedHost(host, 0, host.length) || !httpsReady.test(lowerCase(host))) {
            return location;
        }
        return HTTPS + location.substring(hostStart, hostEnd) + location.substring(restStart);
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
