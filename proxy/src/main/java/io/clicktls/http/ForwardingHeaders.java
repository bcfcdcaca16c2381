package io.clicktls.http;

import io.clicktls.config.Platform;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.AsciiString;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What changes in the headers between the two hops, in both directions. Pure functions; safe on any thread.
 *
 * <p>Each hop frames its own messages: the hop-by-hop headers of RFC 9110 section 7.6.1 are removed and the
 * framing ({@code Content-Length} or chunked) is set again for the next hop.
 */
final class ForwardingHeaders {

    // AsciiString names: Netty's header map hashes them once, where a String name is hashed on every lookup.
    private static final AsciiString STRICT_TRANSPORT_SECURITY = AsciiString.cached("strict-transport-security");
    private static final AsciiString X_FORWARDED_FOR = AsciiString.cached("x-forwarded-for");
    private static final AsciiString X_FORWARDED_PROTO = AsciiString.cached("x-forwarded-proto");
    private static final AsciiString X_FORWARDED_HOST = AsciiString.cached("x-forwarded-host");
    private static final String PROXY_PREFIX = "proxy-";
    private static final String KEEP_ALIVE_OPTION = "keep-alive";
    /** Added by Netty's HTTP/2 to HTTP/1.x conversion (stream id, scheme, path); meaningless upstream. */
    private static final String NETTY_HTTP2_PREFIX = "x-http2-";

    private ForwardingHeaders() {}

    /**
     * The request sent upstream. It takes over the headers of {@code in}, changed in place (no copy per request):
     * {@code in} is not to be used afterwards.
     *
     * @param uri the request target, exactly as the client sent it (origin form)
     * @param clientHost the client's Host (or {@code :authority}) value as received, port included
     * @param clientIp the client's address, appended to {@code X-Forwarded-For}
     * @param scheme {@code https} or {@code http}: how the client reached us
     */
    static HttpRequest upstreamRequest(
            HttpRequest in, String uri, String clientHost, Platform platform, String clientIp, String scheme) {
        HttpHeaders headers = in.headers();
        boolean chunked = HttpUtil.isTransferEncodingChunked(in);
        stripHopByHop(headers, true);
        headers.remove(HttpHeaderNames.EXPECT);

        headers.set(
                HttpHeaderNames.HOST,
                platform.hostHeader() == Platform.HostHeader.UPSTREAM ? upstreamAuthority(platform) : clientHost);
        if (headers.contains(X_FORWARDED_FOR)) {
            headers.set(X_FORWARDED_FOR, String.join(", ", headers.getAll(X_FORWARDED_FOR)) + ", " + clientIp);
        } else {
            headers.set(X_FORWARDED_FOR, clientIp);
        }
        headers.set(X_FORWARDED_PROTO, scheme);
        headers.set(X_FORWARDED_HOST, clientHost);
        if (chunked) {
            headers.remove(HttpHeaderNames.CONTENT_LENGTH);
            headers.set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
        }
        return new DefaultHttpRequest(HttpVersion.HTTP_1_1, in.method(), uri, headers);
    }

    /**
     * The response sent to the client: {@code in} itself, its headers changed in place.
     *
     * @param http2 the client speaks HTTP/2 (framing is the codec's business)
     * @param clientKeepsChunked the client speaks HTTP/1.1, so a body without length can be sent chunked instead of
     *     ending the connection
     * @param method the request's method (a HEAD response has no body)
     */
    static HttpResponse clientResponse(HttpResponse in, boolean http2, boolean clientKeepsChunked, HttpMethod method) {
        HttpHeaders headers = in.headers();
        stripHopByHop(headers, false);
        // HSTS is ours to decide (only when configured), never the platform's: its max-age would pin every
        // tracked domain to https whether or not its certificate can be renewed.
        headers.remove(STRICT_TRANSPORT_SECURITY);
        // Alt-Svc describes the platform's endpoints (often h3 on 443), which are not ours.
        headers.remove(HttpHeaderNames.ALT_SVC);
        if (!http2
                && clientKeepsChunked
                && mayHaveBody(in.status(), method)
                && !headers.contains(HttpHeaderNames.CONTENT_LENGTH)) {
            headers.set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
        }
        return in.setProtocolVersion(HttpVersion.HTTP_1_1);
    }

    /**
     * Removes {@code Connection} and every header it names, {@code Keep-Alive}, {@code Proxy-*}, {@code TE},
     * {@code Trailer}, {@code Transfer-Encoding} and {@code Upgrade}.
     */
    static void stripHopByHop(HttpHeaders headers) {
        stripHopByHop(headers, false);
    }

    // What one pass over the names found: a bit per hop-by-hop name, so that the usual case (none, or Connection and
    // Keep-Alive) needs no list and each removal uses Netty's pre-hashed name.
    private static final int CONNECTION = 1;
    private static final int KEEP_ALIVE = 2;
    private static final int TE = 4;
    private static final int TRAILER = 8;
    private static final int TRANSFER_ENCODING = 16;
    private static final int UPGRADE = 32;
    /** A {@code Proxy-*} or {@code x-http2-*} name: collected by name. */
    private static final int PREFIXED = 64;

    /**
     * One pass over the names finds the hop-by-hop headers present (usually none, or {@code Connection}); only those
     * are removed, rather than a lookup per possible name on every message.
     *
     * @param nettyHttp2 also remove the {@code x-http2-*} headers of Netty's HTTP/2 conversion
     */
    private static void stripHopByHop(HttpHeaders headers, boolean nettyHttp2) {
        int found = 0;
        List<CharSequence> prefixed = null;
        Iterator<Map.Entry<CharSequence, CharSequence>> entries = headers.iteratorCharSequence();
        while (entries.hasNext()) {
            CharSequence name = entries.next().getKey();
            int kind = hopByHop(name, nettyHttp2);
            if (kind == PREFIXED) {
                if (prefixed == null) {
                    prefixed = new ArrayList<>(4);
                }
                prefixed.add(name);
            }
            found |= kind;
        }
        if (found == 0) {
            return;
        }
        if ((found & CONNECTION) != 0) {
            Iterator<String> values = headers.valueStringIterator(HttpHeaderNames.CONNECTION);
            while (values.hasNext()) {
                removeListed(headers, values.next());
            }
            headers.remove(HttpHeaderNames.CONNECTION);
        }
        if ((found & KEEP_ALIVE) != 0) {
            headers.remove(HttpHeaderNames.KEEP_ALIVE);
        }
        if ((found & TE) != 0) {
            headers.remove(HttpHeaderNames.TE);
        }
        if ((found & TRAILER) != 0) {
            headers.remove(HttpHeaderNames.TRAILER);
        }
        if ((found & TRANSFER_ENCODING) != 0) {
            headers.remove(HttpHeaderNames.TRANSFER_ENCODING);
        }
        if ((found & UPGRADE) != 0) {
            headers.remove(HttpHeaderNames.UPGRADE);
        }
        if (prefixed != null) {
            prefixed.forEach(headers::remove);
        }
    }

    /**
     * Which hop-by-hop header {@code name} is, in any case: {@code Connection}, {@code Keep-Alive}, {@code TE},
     * {@code Trailer}, {@code Transfer-Encoding}, {@code Upgrade}, {@code Proxy-*} and, with {@code nettyHttp2},
     * {@code x-http2-*}; 0 for any other.
     */
    private static int hopByHop(CharSequence name, boolean nettyHttp2) {
        switch (name.length() == 0 ? 0 : name.charAt(0) | 0x20) {
            case 'c':
                return AsciiString.contentEqualsIgnoreCase(name, HttpHeaderNames.CONNECTION) ? CONNECTION : 0;
            case 'k':
                return AsciiString.contentEqualsIgnoreCase(name, HttpHeaderNames.KEEP_ALIVE) ? KEEP_ALIVE : 0;
            case 't':
                if (AsciiString.contentEqualsIgnoreCase(name, HttpHeaderNames.TE)) {
                    return TE;
                }
                if (AsciiString.contentEqualsIgnoreCase(name, HttpHeaderNames.TRAILER)) {
                    return TRAILER;
                }
                return AsciiString.contentEqualsIgnoreCase(name, HttpHeaderNames.TRANSFER_ENCODING)
                        ? TRANSFER_ENCODING
                        : 0;
            case 'u':
                return AsciiString.contentEqualsIgnoreCase(name, HttpHeaderNames.UPGRADE) ? UPGRADE : 0;
            case 'p':
                return startsWith(name, PROXY_PREFIX) ? PREFIXED : 0;
            case 'x':
                return nettyHttp2 && startsWith(name, NETTY_HTTP2_PREFIX) ? PREFIXED : 0;
            default:
                return 0;
        }
    }

    /** Removes each header named in a comma-separated {@code Connection} value. */
    private static void removeListed(HttpHeaders headers, String value) {
        int start = 0;
        while (start < value.length()) {
            int comma = value.indexOf(',', start);
            int end = comma < 0 ? value.length() : comma;
            int from = start;
            int to = end;
            while (from < to && isSpaceOrTab(value.charAt(from))) {
                from++;
            }
            while (to > from && isSpaceOrTab(value.charAt(to - 1))) {
                to--;
            }
            // the usual value names the Keep-Alive header, which goes in any case: no lookup for it
            boolean keepAlive = to - from == KEEP_ALIVE_OPTION.length()
                    && value.regionMatches(true, from, KEEP_ALIVE_OPTION, 0, to - from);
            if (to > from && !keepAlive) {
                headers.remove(value.substring(from, to));
            }
            start = end + 1;
        }
    }

    private static boolean isSpaceOrTab(char c) {
        return c == ' ' || c == '\t';
    }

    /** Seconds from {@code Keep-Alive: timeout=N}, or -1. */
    static long keepAliveTimeoutSeconds(HttpHeaders headers) {
        String value = headers.get(HttpHeaderNames.KEEP_ALIVE);
        if (value == null) {
            return -1;
        }
        for (String part : value.split(",")) {
            String p = part.trim().toLowerCase(Locale.ROOT);
            if (p.startsWith("timeout=")) {
                try {
                    return Long.parseLong(p.substring("timeout=".length()).trim());
                } catch (NumberFormatException e) {
                    return -1;
                }
            }
        }
        return -1;
    }

    private static boolean mayHaveBody(HttpResponseStatus status, HttpMethod method) {
        int code = status.code();
        return !HttpMethod.HEAD.equals(method) && code >= 200 && code != 204 && code != 304;
    }

    private static String upstreamAuthority(Platform platform) {
        int port = platform.upstreamPort();
        boolean defaultPort = platform.tls() ? port == 443 : port == 80;
        return defaultPort ? platform.upstreamHost() : platform.upstreamHost() + ":" + port;
    }

    private static boolean startsWith(CharSequence name, String prefix) {
        return name.length() >= prefix.length() && AsciiString.regionMatches(name, true, 0, prefix, 0, prefix.length());
    }
}
