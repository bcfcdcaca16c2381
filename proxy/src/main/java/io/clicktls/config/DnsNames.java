package io.clicktls.config;

import java.net.IDN;

/**
 * Checks host names as a certificate would carry them. Hand-written rather than a regex: a config may list 100,000
 * names and each is checked in one pass without allocating.
 */
final class DnsNames {

    static final int MAX_NAME = 253;
    static final int MAX_LABEL = 63;

    /**
     * What {@link #problem} says of a name that is fine once {@link #normalize normalized}: upper case, a trailing
     * dot or non-ASCII letters. Compared by identity.
     */
    static final String NOT_NORMALIZED = new String("is not normalized");

    private DnsNames() {}

    /**
     * The normalized form of {@code name}, or {@code null} after appending what is wrong with it to
     * {@code problem}. A name already in normal form (nearly every one) costs one pass and no allocation.
     */
    static String check(String name, boolean wildcard, StringBuilder problem) {
        String reason = problem(name, wildcard);
        if (reason == null) {
            return name;
        }
        String normalized = reason == NOT_NORMALIZED ? normalize(name) : null;
        if (reason == NOT_NORMALIZED) {
            reason = normalized == null ? "cannot be converted to ASCII (punycode)" : problem(normalized, wildcard);
            if (reason == NOT_NORMALIZED) {
                // normalizing strips one trailing dot; another one is an empty last label
                reason = "has an empty label";
            }
            if (reason == null) {
                return normalized;
            }
        }
        problem.append(reason);
        return null;
    }

    /**
     * Lower case, without one trailing dot, internationalized names in punycode. Returns {@code null} when the name
     * cannot be converted to ASCII.
     */
    static String normalize(String name) {
        String ascii = name;
        if (!isAscii(name)) {
            try {
                ascii = IDN.toASCII(name, IDN.USE_STD3_ASCII_RULES);
            } catch (IllegalArgumentException e) {
                return null;
            }
        }
        return DomainTable.normalize(ascii);
    }

    /**
     * What is wrong with a name, as the end of a sentence that starts with the name ("has an empty label"),
     * {@link #NOT_NORMALIZED} if it needs {@link #normalize} first, or {@code null} if nothing is.
     *
     * @param wildcard whether a leading {@code *.} label is allowed
     */
    static String problem(String name, boolean wildcard) {
        if (name.isEmpty()) {
            return "is empty";
        }
        if (name.length() - (name.endsWith(".") ? 1 : 0) > MAX_NAME) {
            return "is longer than " + MAX_NAME + " characters";
        }
        int start = 0;
        if (name.startsWith("*.")) {
            if (!wildcard) {
                return "is a wildcard, which is not allowed here";
            }
            start = 2;
            if (name.indexOf('.', start) < 0) {
                return "is a wildcard over a top-level name";
            }
        }
        int labelStart = start;
        boolean lastLabelNumeric = true;
        for (int i = start; i <= name.length(); i++) {
            char c = i < name.length() ? name.charAt(i) : '.';
            if (c == '.') {
                if (i == name.length() - 1 && i > start) {
                    return NOT_NORMALIZED;
                }
                int length = i - labelStart;
                if (length == 0) {
                    return "has an empty label";
                }
                if (length > MAX_LABEL) {
                    return "has a label longer than " + MAX_LABEL + " characters";
                }
                if (name.charAt(labelStart) == '-' || name.charAt(i - 1) == '-') {
                    return "has a label that starts or ends with '-'";
                }
                if (i < name.length()) {
                    labelStart = i + 1;
                    lastLabelNumeric = true;
                }
            } else if (c >= '0' && c <= '9') {
                // digits keep the label numeric
            } else if ((c >= 'a' && c <= 'z') || c == '-') {
                lastLabelNumeric = false;
            } else if ((c >= 'A' && c <= 'Z') || c >= 0x80) {
                return NOT_NORMALIZED;
            } else if (c == '*') {
                return "has '*' somewhere other than a leading '*.' label";
            } else if (c == ':') {
                return "is an IP address";
            } else {
                return "has the character '" + c + "'";
            }
        }
        if (lastLabelNumeric) {
            // no top-level domain is numeric: this is an IPv4 address or a typo of one
            return "is an IP address";
        }
        return null;
    }

    private static boolean isAscii(String name) {
        for (int i = 0; i < name.length(); i++) {
            if (name.charAt(i) >= 0x80) {
                return false;
            }
        }
        return true;
    }
}
