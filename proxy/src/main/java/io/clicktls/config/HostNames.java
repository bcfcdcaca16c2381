package io.clicktls.config;

import java.net.IDN;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Locale;

/**
 * The one set of rules for host names, used by every package: how a name from SNI, a Host header, a DNS answer or the
 * config is brought to normal form, whether it is a name a public CA could issue a certificate for, and, when it is
 * not, why (for messages).
 *
 * <p>A valid name is lower case, without a trailing dot, at most {@value #MAX_NAME} characters, made of labels of 1 to
 * {@value #MAX_LABEL} letters, digits and inner hyphens; a label with {@code --} in third and fourth place is punycode
 * ({@code xn--}) that decodes; the last label is not all digits (that is an IPv4 address). Whether a name is a public
 * suffix needs the Public Suffix List and is the issuance policy's question, not this class's.
 *
 * <p>Hand-written rather than a regex: a config may list 100,000 names, each checked in one pass without allocating.
 * Stateless; any thread, event loops included.
 */
public final class HostNames {

    public static final int MAX_NAME = 253;
    public static final int MAX_LABEL = 63;

    /** What {@link #problem} says of a name that needs {@link #normalize} first. Compared by identity. */
    private static final String NOT_NORMALIZED = new String("is not normalized");

    private HostNames() {}

    /**
     * Lower case (ASCII letters), without one trailing dot: how SNI, Host and DNS names are compared. A name already
     * in that form (nearly every one) is returned as is, without allocating. Non-ASCII letters are kept, so such a
     * name stays invalid; {@link #check} converts them to punycode for the config.
     */
    public static String normalize(String host) {
        String name = host.endsWith(".") ? host.substring(0, host.length() - 1) : host;
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (c >= 'A' && c <= 'Z') {
                return name.toLowerCase(Locale.ROOT);
            }
        }
        return name;
    }

    /** Whether {@code name}, as it stands (normalized, no wildcard), is a host name a public CA could issue for. */
    public static boolean isValid(String name) {
        return name != null && problem(name, false) == null;
    }

    /**
     * Why {@code name}, as it stands (normalized, no wildcard), is not a valid host name, as the end of a sentence that
     * starts with the name ("has an empty label"), or {@code null} when it is valid.
     */
    public static String explain(String name) {
        if (name == null) {
            return "is missing";
        }
        String reason = problem(name, false);
        if (reason != NOT_NORMALIZED) {
            return reason;
        }
        if (name.endsWith(".")) {
            return "ends with a dot";
        }
        for (int i = 0; i < name.length(); i++) {
            if (name.charAt(i) >= 0x80) {
                return "has the non-ASCII character '" + name.charAt(i) + "' (expected: punycode)";
            }
        }
        return "has upper-case letters";
    }

    /**
     * For the config: the normal form of {@code name} (lower case, without one trailing dot, internationalized names in
     * punycode), or {@code null} after appending to {@code problem} what is wrong with it. A name already in normal
     * form (nearly every one) costs one pass and no allocation.
     *
     * @param wildcard whether a leading {@code *.} label is allowed
     */
    public static String check(String name, boolean wildcard, StringBuilder problem) {
        String reason = problem(name, wildcard);
        if (reason == null) {
            return name;
        }
        if (reason == NOT_NORMALIZED) {
            String normalized = toAscii(name);
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
     * An IPv4 or IPv6 literal (IPv6 with or without brackets), parsed without any lookup; {@code null} for a name.
     */
    public static InetAddress ipLiteral(String text) {
        String bare = text.startsWith("[") && text.endsWith("]") ? text.substring(1, text.length() - 1) : text;
        boolean v4 = bare.matches("(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])(\\.(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])){3}");
        boolean v6 = bare.indexOf(':') >= 0
                && bare.chars().allMatch(c -> Character.digit(c, 16) >= 0 || c == ':' || c == '.');
        if (!v4 && !v6) {
            return null;
        }
        try {
            return InetAddress.getByName(bare); // a literal: parsed, never looked up
        } catch (UnknownHostException e) {
            return null;
        }
    }

    /** {@link #normalize} with internationalized names in punycode; {@code null} when that conversion fails. */
    static String toAscii(String name) {
        String ascii = name;
        for (int i = 0; i < name.length(); i++) {
            if (name.charAt(i) >= 0x80) {
                try {
                    ascii = IDN.toASCII(name, IDN.USE_STD3_ASCII_RULES);
                } catch (IllegalArgumentException e) {
                    return null;
                }
                break;
            }
        }
        return normalize(ascii);
    }

    /**
     * What is wrong with a name, {@link #NOT_NORMALIZED} if it needs {@link #normalize} first, or {@code null} if
     * nothing is.
     */
    private static String problem(String name, boolean wildcard) {
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
                if (length >= 4
                        && name.charAt(labelStart + 2) == '-'
                        && name.charAt(labelStart + 3) == '-'
                        && !validPunycode(name.substring(labelStart, i))) {
                    return "has a label with '--' in third and fourth place that is not punycode (xn--) that decodes";
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

    /** Labels with "--" in third and fourth place are reserved (RFC 5891 4.2.3.1): only decodable punycode may. */
    private static boolean validPunycode(String label) {
        if (!label.startsWith("xn--")) {
            return false;
        }
        try {
            String unicode = IDN.toUnicode(label, IDN.USE_STD3_ASCII_RULES);
            // toUnicode hands back its input when it cannot decode it; a decoded label must encode back the same
            return !unicode.equals(label)
                    && IDN.toASCII(unicode, IDN.USE_STD3_ASCII_RULES)
                            .toLowerCase(Locale.ROOT)
                            .equals(label);
        } catch (IllegalArgumentException e) {
            return false;
        }
    }
}
