package io.clicktls.http;

import io.clicktls.config.Platform;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import java.util.ArrayList;
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

    private static final String STRICT_TRANSPORT_SECURITY = "strict-transport-security";
    private static final String X_FORWARDED_FOR = "x-forwarded-for";
    private static final String X_FORWARDED_PROTO = "x-forwarded-proto";
    private static final String X_FORWARDED_HOST = "x-forwarded-host";
    /** Added by Netty's HTTP/2 to HTTP/1.x conversion (stream id, scheme, path); meaningless upstream. */
    private static final String NETTY_HTTP2_PREFIX = "x-http2-";

    private ForwardingHeaders() {}

    /**
     * The request sent upstream.
     *
     * @param uri the request target, exactly as the client sent it (origin form)
     * @param clientHost the client's Host (or {@code :authority}) value as received, port included
     * @param clientIp the client's address, appended to {@code X-Forwarded-For}
     * @param scheme {@code https} or {@code http}: how the client reached us
     */
    static HttpRequest upstreamRequest(
            HttpRequest in, String uri, String clientHost, Platform platform, String clientIp, String scheme) {
        HttpHeaders headers = new DefaultHttpHeaders();
        headers.add(in.headers());
        boolean chunked = HttpUtil.isTransferEncodingChunked(in);
        stripHopByHop(headers);
        removeNettyHttp2Headers(headers);
        headers.remove(HttpHeaderNames.EXPECT);

        headers.set(HttpHeaderNames.HOST, platform.hostHeader() == Platform.HostHeader.UPSTREAM
                ? upstreamAuthority(platform)
                : clientHost);
        List<String> forwardedFor = headers.getAll(X_FORWARDED_FOR);
        headers.set(X_FORWARDED_FOR,
                forwardedFor.isEmpty() ? clientIp : String.join(", ", forwardedFor) + ", " + clientIp);
        headers.set(X_FORWARDED_PROTO, scheme);
        headers.set(X_FORWARDED_HOST, clientHost);
        if (chunked) {
            headers.remove(HttpHeaderNames.CONTENT_LENGTH);
            headers.set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
        }
        return new DefaultHttpRequest(HttpVersion.HTTP_1_1, in.method(), uri, headers);
    }

    /**
     * The response sent to the client.
     *
     * @param http2 the client speaks HTTP/2 (framing is the codec's business)
     * @param clientKeepsChunked the client speaks HTTP/1.1, so a body without length can be sent chunked instead of
     *     ending the connection
     * @param method the request's method (a HEAD response has no body)
     */
    static HttpResponse clientResponse(
            HttpResponse in, boolean http2, boolean clientKeepsChunked, HttpMethod method) {
        HttpHeaders headers = new DefaultHttpHeaders();
        headers.add(in.headers());
        stripHopByHop(headers);
        // HSTS is ours to decide (only when configured), never the platform's: its max-age would pin every
        // tracked domain to https whether or not its certificate can be renewed.
        headers.remove(STRICT_TRANSPORT_SECURITY);
        // Alt-Svc describes the platform's endpoints (often h3 on 443), which are not ours.
        headers.remove(HttpHeaderNames.ALT_SVC);
        if (!http2 && clientKeepsChunked && mayHaveBody(in.status(), method)
                && !headers.contains(HttpHeaderNames.CONTENT_LENGTH)) {
            headers.set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
        }
        return new DefaultHttpResponse(HttpVersion.HTTP_1_1, in.status(), headers);
    }

    /**
     * Removes {@code Connection} and every header it names, {@code Keep-Alive}, {@code Proxy-*}, {@code TE},
     * {@code Trailer}, {@code Transfer-Encoding} and {@code Upgrade}.
     */
    static void stripHopByHop(HttpHeaders headers) {
        for (String value : headers.getAll(HttpHeaderNames.CONNECTION)) {
            for (String token : value.split(",")) {
                String name = token.trim();
                if (!name.isEmpty()) {
                    headers.remove(name);
                }
            }
        }
        headers.remove(HttpHeaderNames.CONNECTION);
        headers.remove(HttpHeaderNames.KEEP_ALIVE);
        headers.remove(HttpHeaderNames.TE);
        headers.remove(HttpHeaderNames.TRAILER);
        headers.remove(HttpHeaderNames.TRANSFER_ENCODING);
        headers.remove(HttpHeaderNames.UPGRADE);
        removeByPrefix(headers, "proxy-");
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

    private static void removeNettyHttp2Headers(HttpHeaders headers) {
        removeByPrefix(headers, NETTY_HTTP2_PREFIX);
    }

    private static void removeByPrefix(HttpHeaders headers, String prefix) {
        List<String> names = null;
        for (Map.Entry<String, String> entry : headers) {
            String name = entry.getKey();
            if (name.regionMatches(true, 0, prefix, 0, prefix.length())) {
                if (names == null) {
                    names = new ArrayList<>(2);
                }
                names.add(name);
            }
        }
        if (names != null) {
            names.forEach(headers::remove);
        }
    }
}
