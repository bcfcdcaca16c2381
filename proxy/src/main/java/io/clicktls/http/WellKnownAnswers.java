package io.clicktls.http;

import io.clicktls.config.DomainTable;
import io.clicktls.config.WellKnownFile;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * The {@code well_known} files of a domain's options ({@code /.well-known/assetlinks.json},
 * {@code apple-app-site-association}), answered on both listeners before anything else: never forwarded to the
 * platform, and never redirected to https (an http-to-https redirect breaks Android's app-link verification). The
 * file comes from the route of the request, which the proxy handler looked up in the config snapshot current when the
 * request was read, so a reload serves new bytes from the next request on. Every other request goes to {@code next}.
 *
 * <p>Runs on the event loop and does not block: the files were read when the config was loaded.
 */
final class WellKnownAnswers implements LocalAnswers {

    static final String PREFIX = "/.well-known/";
    private static final byte[] METHOD_NOT_ALLOWED = "Only GET and HEAD.\n".getBytes(StandardCharsets.US_ASCII);

    private final LocalAnswers next;

    WellKnownAnswers(LocalAnswers next) {
        this.next = next;
    }

    @Override
    public CompletionStage<FullHttpResponse> answer(
            HttpRequest request, String target, String host, DomainTable.Route route, InetAddress client) {
        WellKnownFile file = fileFor(target, route);
        if (file == null) {
            return next.answer(request, target, host, route, client);
        }
        return CompletableFuture.completedFuture(response(request, file));
    }

    /** The file served for {@code target} (path and query) on {@code route}, or {@code null}. */
    static WellKnownFile fileFor(String target, DomainTable.Route route) {
        if (route == null || !target.startsWith(PREFIX)) {
            return null;
        }
        int query = target.indexOf('?');
        return route.options().wellKnown(query < 0 ? target : target.substring(0, query));
    }

    private static FullHttpResponse response(HttpRequest request, WellKnownFile file) {
        boolean head = HttpMethod.HEAD.equals(request.method());
        if (!head && !HttpMethod.GET.equals(request.method())) {
            FullHttpResponse refused = new DefaultFullHttpResponse(
                    HttpVersion.HTTP_1_1,
                    HttpResponseStatus.METHOD_NOT_ALLOWED,
                    Unpooled.wrappedBuffer(METHOD_NOT_ALLOWED));
            refused.headers()
                    .set(HttpHeaderNames.ALLOW, "GET, HEAD")
                    .set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=us-ascii")
                    .set(HttpHeaderNames.CONTENT_LENGTH, METHOD_NOT_ALLOWED.length);
            return refused;
        }
        byte[] content = file.content();
        FullHttpResponse response = new DefaultFullHttpResponse(
                HttpVersion.HTTP_1_1,
                HttpResponseStatus.OK,
                head ? Unpooled.EMPTY_BUFFER : Unpooled.wrappedBuffer(content));
        response.headers()
                .set(HttpHeaderNames.CONTENT_TYPE, file.contentType())
                .set(HttpHeaderNames.CONTENT_LENGTH, content.length);
        return response;
    }
}
