package io.clicktls.http;

import io.netty.handler.codec.http.HttpRequest;
import java.util.Iterator;
import java.util.Map;

/**
 * The request-line and field grammar of RFC 9112 and RFC 9110 that Netty's decoders leave to us, checked on every
 * request before it is answered or forwarded, whichever the protocol and listener. Pure functions; safe on any
 * thread.
 *
 * <p>Netty's HTTP/1.1 decoder already checks header names (tokens) and values (no control bytes but HTAB) and the
 * method; it takes the request-target as it comes, one char per byte, control bytes included. HPACK hands over
 * {@code :path} and header values as bytes. So: the target may hold any byte from 0x21 to 0x7E, and bytes from 0x80
 * up (obs-text: passed on exactly as received, the way nginx does); a control byte, a space or DEL is refused. Over
 * HTTP/2 the header fields are checked here as well, since they are forwarded into an HTTP/1.1 request.
 */
final class RequestSyntax {

    private RequestSyntax() {}

    /**
     * What is wrong with {@code request}, or {@code null} if it may be answered or forwarded; if something is, the
     * client gets the failure's status and nothing goes on.
     *
     * @param http2 the request came over HTTP/2: its fields are checked here, and their size (HPACK's count, which
     *     Netty's decoder lets through up to {@link ProxySettings#H2_MAX_DECODED_HEADER_LIST}) is held to
     *     {@link ProxySettings#MAX_HEADER_SIZE}, the HTTP/1.1 decoder's limit
     */
    static ErrorResponses.Failure problem(HttpRequest request, boolean http2) {
        if (!isToken(request.method().name()) || !isTarget(request.uri())) {
            return ErrorResponses.Failure.MALFORMED_REQUEST;
        }
        return http2 ? fieldsProblem(request) : null;
    }

    /** Whether {@code target} holds only visible ASCII and bytes from 0x80 up (one char per byte). */
    static boolean isTarget(CharSequence target) {
        int length = target.length();
        if (length == 0) {
            return false;
        }
        for (int i = 0; i < length; i++) {
            char c = target.charAt(i);
            if (c <= 0x20 || c == 0x7F || c > 0xFF) {
                return false;
            }
        }
        return true;
    }

    /** RFC 9110 section 5.6.2: {@code token = 1*tchar}. */
    static boolean isToken(CharSequence value) {
        int length = value.length();
        if (length == 0) {
            return false;
        }
        for (int i = 0; i < length; i++) {
            if (!isTokenChar(value.charAt(i))) {
                return false;
            }
        }
        return true;
    }

    /**
     * RFC 9110 section 5.5: a field value holds visible ASCII, obs-text (0x80-0xFF), and spaces and tabs between
     * them; never another control byte or DEL.
     */
    static boolean isFieldValue(CharSequence value) {
        int length = value.length();
        for (int i = 0; i < length; i++) {
            char c = value.charAt(i);
            if (c < 0x20 && c != '\t' || c == 0x7F || c > 0xFF) {
                return false;
            }
        }
        return true;
    }

    /** RFC 9113 section 6.5.2: each field counts its name, its value and 32 bytes of overhead. */
    private static final int FIELD_OVERHEAD = 32;

    private static ErrorResponses.Failure fieldsProblem(HttpRequest request) {
        // The pseudo-header fields became the method and the target.
        long size = request.method().name().length() + request.uri().length() + 2L * FIELD_OVERHEAD;
        Iterator<Map.Entry<CharSequence, CharSequence>> fields =
                request.headers().iteratorCharSequence();
        boolean malformed = false;
        while (fields.hasNext()) {
            Map.Entry<CharSequence, CharSequence> field = fields.next();
            size += field.getKey().length() + field.getValue().length() + FIELD_OVERHEAD;
            malformed |= !isToken(field.getKey()) || !isFieldValue(field.getValue());
        }
        if (size > ProxySettings.MAX_HEADER_SIZE) {
            return ErrorResponses.Failure.HEADERS_TOO_LARGE;
        }
        return malformed ? ErrorResponses.Failure.MALFORMED_REQUEST : null;
    }

    private static boolean isTokenChar(char c) {
        if (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
            return true;
        }
        return "!#$%&'*+-.^_`|~".indexOf(c) >= 0;
    }
}
