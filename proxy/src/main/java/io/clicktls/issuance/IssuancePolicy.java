package io.clicktls.issuance;

import io.clicktls.config.ConfigSnapshot;

/**
 * Decides whether a certificate may be issued on demand for a host name. For now a name must be a syntactically
 * valid host name and be matched by the config's domain table. The ask endpoint, DNS check and rate limits come
 * later; they will make the decision asynchronous, so callers already call this off the event loop.
 *
 * <p>Stateless and thread-safe; cheap (no I/O).
 */
public final class IssuancePolicy {

    /** Reason: not a host name a public CA could issue for (IP literal, empty, too long, bad label). */
    public static final String INVALID_NAME = "invalid_name";
    /** Reason: no {@code domains} entry matches the name. */
    public static final String NOT_CONFIGURED = "not_configured";

    /**
     * The outcome for one name.
     *
     * @param reason {@code null} when allowed, else a short metric label such as {@link #NOT_CONFIGURED}
     */
    public record Decision(boolean allowed, String reason) {

        private static final Decision ALLOW = new Decision(true, null);

        public static Decision allow() {
            return ALLOW;
        }

        public static Decision refuse(String reason) {
            return new Decision(false, reason);
        }
    }

    /** @param name a lower-case host name without a trailing dot, as the resolver passes it */
    public Decision decide(String name, ConfigSnapshot config) {
        if (!validHostName(name)) {
            return Decision.refuse(INVALID_NAME);
        }
        if (!config.domains().serves(name)) {
            return Decision.refuse(NOT_CONFIGURED);
        }
        return Decision.allow();
    }

    /**
     * Whether {@code name} is a lower-case DNS host name: 1 to 253 characters, labels of 1 to 63 letters, digits and
     * inner hyphens, and not an IPv4 literal (a last label made of digits only). No trailing dot.
     */
    public static boolean validHostName(String name) {
        if (name == null || name.isEmpty() || name.length() > 253) {
            return false;
        }
        int labelStart = 0;
        boolean labelAllDigits = true;
        for (int i = 0; i <= name.length(); i++) {
            char c = i < name.length() ? name.charAt(i) : '.';
            if (c == '.') {
                int length = i - labelStart;
                if (length == 0 || length > 63 || name.charAt(labelStart) == '-' || name.charAt(i - 1) == '-') {
                    return false;
                }
                if (i == name.length() && labelAllDigits) {
                    return false; // an IP literal, or a name no top-level domain could have
                }
                labelStart = i + 1;
                labelAllDigits = true;
            } else if (c >= '0' && c <= '9') {
                // keeps labelAllDigits
            } else if ((c >= 'a' && c <= 'z') || c == '-') {
                labelAllDigits = false;
            } else {
                return false;
            }
        }
        return true;
    }
}
