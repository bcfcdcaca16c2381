package io.clicktls.config;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;

/** How plain values are written in the file: durations, ports, IP literals. Pure functions; no problems reported. */
final class ValueSyntax {

    private ValueSyntax() {}

    /** {@code 500ms}, {@code 30s}, {@code 10m}, {@code 12h}, {@code 30d}; {@code null} if it is not one. */
    static Duration duration(String text) {
        int digits = 0;
        while (digits < text.length() && text.charAt(digits) >= '0' && text.charAt(digits) <= '9') {
            digits++;
        }
        if (digits == 0 || digits > 9) {
            return null;
        }
        long amount = Long.parseLong(text, 0, digits, 10);
        switch (text.substring(digits)) {
            case "ms":
                return Duration.ofMillis(amount);
            case "s":
                return Duration.ofSeconds(amount);
            case "m":
                return Duration.ofMinutes(amount);
            case "h":
                return Duration.ofHours(amount);
            case "d":
                return Duration.ofDays(amount);
            default:
                return null;
        }
    }

    /** The port number, or -1 if {@code text} is not 0-65535 in plain digits. */
    static int port(String text) {
        if (text.length() > 5 || !allDigits(text)) {
            return -1;
        }
        int port = Integer.parseInt(text);
        return port <= 65535 ? port : -1;
    }

    /** What is wrong with a listener's host (an IPv4 address or a name), or {@code null}. */
    static String listenHostProblem(String host) {
        if (allDigitsAndDots(host)) {
            return ipv4Literal(host) ? null : "is not an IPv4 address";
        }
        StringBuilder problem = new StringBuilder();
        return HostNames.check(host, false, problem) == null ? problem.toString() : null;
    }

    /** Whether a listen host accepts connections from this machine only. */
    static boolean loopbackAddress(String host) {
        if (host.equals("localhost") || host.equals("::1") || host.equals("0:0:0:0:0:0:0:1")) {
            return true;
        }
        return allDigitsAndDots(host) && ipv4Literal(host) && host.startsWith("127.");
    }

    /** The loopback hosts a URL may name for plain http. */
    static boolean loopbackUrlHost(String host) {
        return host.equals("127.0.0.1") || host.equals("localhost") || host.equals("[::1]");
    }

    static boolean ipv4Literal(String host) {
        String[] parts = host.split("\\.", -1);
        if (parts.length != 4) {
            return false;
        }
        for (String part : parts) {
            if (part.isEmpty() || part.length() > 3 || !allDigits(part) || Integer.parseInt(part) > 255) {
                return false;
            }
        }
        return true;
    }

    static boolean ipv6Literal(String host) {
        if (host.indexOf(':') < 0) {
            return false;
        }
        for (int i = 0; i < host.length(); i++) {
            char c = host.charAt(i);
            boolean hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
            if (!hex && c != ':' && c != '.') {
                return false;
            }
        }
        try {
            // a literal with a colon is parsed, never looked up
            return InetAddress.getByName(host) != null;
        } catch (UnknownHostException e) {
            return false;
        }
    }

    static boolean allDigits(String text) {
        for (int i = 0; i < text.length(); i++) {
            if (text.charAt(i) < '0' || text.charAt(i) > '9') {
                return false;
            }
        }
        return !text.isEmpty();
    }

    static boolean allDigitsAndDots(String text) {
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if ((c < '0' || c > '9') && c != '.') {
                return false;
            }
        }
        return true;
    }
}
