package io.clicktls.admin;

import io.clicktls.certificates.DnsCheck;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Locale;
import java.util.function.Supplier;

/**
 * Who may use the admin listener.
 * <ul>
 *   <li>With {@code admin.token} set, every path except {@code /healthz} needs it: as {@code Authorization: Bearer
 *       TOKEN} (API clients, Prometheus) or as the password of HTTP Basic (a browser's own login prompt, for
 *       {@code /status}). Compared in constant time.</li>
 *   <li>Without a token the listener is on loopback (the config refuses anything else), and only a request whose
 *       {@code Host} is an IP address or {@code localhost} is served: a web page cannot reach it by DNS
 *       rebinding.</li>
 *   <li>A change (renew, forget) made by a browser (it sends {@code Origin}, {@code Referer}, {@code Sec-Fetch-*} or
 *       a form body) must come from the status page itself: same origin, and the per-process form token the page
 *       embeds. A browser attaches Basic credentials to cross-site form posts; it never attaches a bearer token, so a
 *       request with a valid bearer token needs neither check.</li>
 * </ul>
 * Thread-safe; cheap (runs on the event loop).
 */
final class AdminAccess {

    /** Why a request is turned away, or {@code null} when it may proceed. */
    enum Denial {
        /** 401: no or wrong credentials. */
        UNAUTHENTICATED,
        /** 403: a Host that is not this machine's (possible DNS rebinding). */
        FOREIGN_HOST,
        /** 403: a browser change not made from the status page. */
        CROSS_SITE
    }

    private final Supplier<String> token;
    private final String formToken;

    /** @param token the current {@code admin.token} (it may change on reload), {@code null} for none */
    AdminAccess(Supplier<String> token) {
        this(token, newFormToken());
    }

    AdminAccess(Supplier<String> token, String formToken) {
        this.token = token;
        this.formToken = formToken;
    }

    /** The token the status page embeds in its forms: random per process, not a secret from an authorized reader. */
    String formToken() {
        return formToken;
    }

    /** For a read, or the first step of a change. */
    Denial check(HttpHeaders headers) {
        String expected = token.get();
        if (expected == null) {
            return localHost(headers.get(HttpHeaderNames.HOST)) ? null : Denial.FOREIGN_HOST;
        }
        String presented = presentedToken(headers.get(HttpHeaderNames.AUTHORIZATION));
        return presented != null && constantTimeEquals(presented, expected) ? null : Denial.UNAUTHENTICATED;
    }

    /**
     * For a change, after {@link #check} passed.
     *
     * @param presentedFormToken the {@code form_token} of a form post, or {@code null}
     */
    Denial checkChange(HttpHeaders headers, boolean formBody, String presentedFormToken) {
        String expected = token.get();
        if (expected != null) {
            String bearer = bearer(headers.get(HttpHeaderNames.AUTHORIZATION));
            if (bearer != null && constantTimeEquals(bearer, expected)) {
                return null;
            }
        }
        boolean fromBrowser = formBody
                || headers.contains(HttpHeaderNames.ORIGIN)
                || headers.contains(HttpHeaderNames.REFERER)
                || headers.contains("Sec-Fetch-Site");
        if (!fromBrowser) {
            return null; // curl and friends on a token-less loopback listener (or with Basic: no ambient credentials)
        }
        if (!sameOrigin(headers)) {
            return Denial.CROSS_SITE;
        }
        return presentedFormToken != null && constantTimeEquals(presentedFormToken, formToken)
                ? null
                : Denial.CROSS_SITE;
    }

    /** Origin (or, without it, Referer) names the Host the request was sent to; Sec-Fetch-Site agrees. */
    static boolean sameOrigin(HttpHeaders headers) {
        String host = headers.get(HttpHeaderNames.HOST);
        if (host == null) {
            return false;
        }
        String site = headers.get("Sec-Fetch-Site");
        if (site != null && !site.equals("same-origin")) {
            return false;
        }
        String origin = headers.get(HttpHeaderNames.ORIGIN);
        String source = origin != null ? origin : headers.get(HttpHeaderNames.REFERER);
        if (source == null || source.equals("null")) {
            return false;
        }
        try {
            URI uri = new URI(source);
            if (!"http".equalsIgnoreCase(uri.getScheme()) || uri.getRawAuthority() == null) {
                return false; // the admin listener speaks plain http
            }
            return uri.getRawAuthority().toLowerCase(Locale.ROOT).equals(host.toLowerCase(Locale.ROOT));
        } catch (URISyntaxException e) {
            return false;
        }
    }

    /** The token from {@code Bearer TOKEN} or from Basic's password; {@code null} if neither. */
    static String presentedToken(String authorization) {
        String bearer = bearer(authorization);
        if (bearer != null) {
            return bearer;
        }
        if (authorization != null && authorization.regionMatches(true, 0, "Basic ", 0, 6)) {
            try {
                String pair = new String(
                        Base64.getDecoder().decode(authorization.substring(6).strip()), StandardCharsets.UTF_8);
                int colon = pair.indexOf(':');
                return colon < 0 ? null : pair.substring(colon + 1);
            } catch (IllegalArgumentException e) {
                return null;
            }
        }
        return null;
    }

    private static String bearer(String authorization) {
        if (authorization != null && authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return authorization.substring(7).strip();
        }
        return null;
    }

    /** {@code localhost} or an IP literal, with or without a port. */
    static boolean localHost(String hostHeader) {
        if (hostHeader == null || hostHeader.isEmpty()) {
            return false;
        }
        String host = hostHeader.toLowerCase(Locale.ROOT);
        if (host.startsWith("[")) {
            int close = host.indexOf(']');
            return close > 0 && (close == host.length() - 1 || host.charAt(close + 1) == ':');
        }
        int colon = host.indexOf(':');
        String bare = colon < 0 ? host : host.substring(0, colon);
        return bare.equals("localhost") || DnsCheck.ipLiteral(bare) != null;
    }

    static boolean constantTimeEquals(String presented, String expected) {
        // MessageDigest.isEqual takes the same time for any content of equal length; hashing first hides the length
        return MessageDigest.isEqual(sha256(presented), sha256(expected));
    }

    private static byte[] sha256(String text) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every JDK", e);
        }
    }

    private static String newFormToken() {
        byte[] bytes = new byte[24];
        new SecureRandom().nextBytes(bytes);
        return HexFormat.of().formatHex(bytes);
    }
}
