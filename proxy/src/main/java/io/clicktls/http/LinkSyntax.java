package io.clicktls.http;

/**
 * The byte classes both link rewriters agree on, so that a {@code Location} header and an HTML body upgrade
 * exactly the same links. Deliberately narrower than a URL parser: anything unusual is left alone, because a
 * link we fail to upgrade still works over http, while a wrong upgrade breaks it.
 */
final class LinkSyntax {

    /** RFC 1035 names: 253 characters without the trailing dot. */
    static final int MAX_HOST_LENGTH = 253;

    /**
     * An explicit port is 1 to 5 ASCII digits, the first not {@code 0}, worth at most 65535. Anything else after
     * the {@code :} ({@code http://h:/}, {@code :080}, {@code :65536}) leaves the link alone: parsers disagree on
     * those, and which ports are upgraded is {@link LinkPorts}'s rule.
     */
    static final int MAX_PORT_DIGITS = 5;

    static final int MAX_PORT = 65535;

    private static final boolean[] HOST = new boolean[256];
    private static final boolean[] SCHEME = new boolean[256];
    private static final boolean[] DELIMITER = new boolean[256];
    private static final boolean[] URL_END = new boolean[256];

    static {
        for (int c = 'a'; c <= 'z'; c++) {
            HOST[c] = true;
            HOST[c - 'a' + 'A'] = true;
        }
        for (int c = '0'; c <= '9'; c++) {
            HOST[c] = true;
        }
        HOST['-'] = true;
        HOST['.'] = true;
        System.arraycopy(HOST, 0, SCHEME, 0, HOST.length);
        // A letter, digit or one of these before "http" makes it part of another scheme ("xhttp:", "svn+http:").
        SCHEME['+'] = true;
        for (char c : new char[] {'/', '?', '#', '"', '\'', '<', '>', ' ', '\t', '\r', '\n', ')', '\\'}) {
            DELIMITER[c] = true;
        }
        for (char c : new char[] {'"', '\'', '<', '>', ' ', '\t', '\r', '\n', ')'}) {
            URL_END[c] = true;
        }
    }

    private LinkSyntax() {}

    /** Letters, digits, {@code -} and {@code .}: anything else (userinfo {@code @}, {@code %}, non-ASCII) ends it. */
    static boolean isHostByte(int b) {
        return HOST[b & 0xff];
    }

    /** Whether a byte before {@code http} would make it the tail of another scheme name. */
    static boolean isSchemeByte(int b) {
        return SCHEME[b & 0xff];
    }

    /** Bytes that may follow a host in an HTML or script body for the link to count as ending there. */
    static boolean isDelimiter(int b) {
        return DELIMITER[b & 0xff];
    }

    /**
     * Bytes that end a URL written in HTML, a script or text: until one comes, an {@code http://} belongs to the
     * URL before it (a destination's query, say) and is not a link of its own.
     */
    static boolean isUrlEnd(int b) {
        return URL_END[b & 0xff];
    }

    static boolean isDigit(int b) {
        return b >= '0' && b <= '9';
    }

    /** Whether {@code port} may be written after a host: 1 to 65535. */
    static boolean isPort(int port) {
        return port > 0 && port <= MAX_PORT;
    }

    /**
     * Whether the next digit {@code b} may extend a port of {@code digits} digits so far worth {@code value}:
     * no leading zero, at most {@link #MAX_PORT_DIGITS} digits, at most {@link #MAX_PORT}.
     */
    static boolean extendsPort(int value, int digits, int b) {
        return isDigit(b)
                && !(digits == 0 && b == '0')
                && digits < MAX_PORT_DIGITS
                && value * 10 + (b - '0') <= MAX_PORT;
    }

    static boolean isAsciiUpper(int b) {
        return b >= 'A' && b <= 'Z';
    }

    /**
     * Whether {@code len} host bytes read as a DNS name: non-empty labels, none starting or ending with {@code -},
     * no trailing dot (a certificate seldom covers {@code name.}, and a browser error is worse than http).
     * The caller has already checked every byte with {@link #isHostByte}.
     */
    static boolean isWellFormedHost(byte[] bytes, int off, int len) {
        if (len == 0 || len > MAX_HOST_LENGTH) {
            return false;
        }
        int labelStart = off;
        int end = off + len;
        for (int i = off; i <= end; i++) {
            if (i == end || bytes[i] == '.') {
                if (i == labelStart || bytes[labelStart] == '-' || bytes[i - 1] == '-' || i - labelStart > 63) {
                    return false;
                }
                labelStart = i + 1;
            }
        }
        return true;
    }
}
