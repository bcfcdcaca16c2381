package io.clicktls.http;

import io.clicktls.metrics.Metrics;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import java.nio.charset.StandardCharsets;

/**
 * The one table from failure to what the client sees. Handlers name a {@link Failure}; nothing else in the package
 * makes up an error status. Every answer is a small text/plain page sent with {@code Connection: close} (the
 * request's body may not have been read, so the connection cannot carry another request), and counted in
 * {@code clicktls_requests_total}.
 */
final class ErrorResponses {

    /** What went wrong, and what the client is told. */
    enum Failure {
        MALFORMED_REQUEST(HttpResponseStatus.BAD_REQUEST, "Bad request."),
        URI_TOO_LONG(HttpResponseStatus.REQUEST_URI_TOO_LONG, "Request line too long."),
        HEADERS_TOO_LARGE(HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Request headers too large."),
        HOST_NOT_SERVED(HttpResponseStatus.MISDIRECTED_REQUEST, "This host name is not served here."),
        NOT_FOUND(HttpResponseStatus.NOT_FOUND, "Not found."),
        UPSTREAM_UNREACHABLE(HttpResponseStatus.BAD_GATEWAY, "The tracking service could not be reached."),
        UPSTREAM_TIMEOUT(HttpResponseStatus.GATEWAY_TIMEOUT, "The tracking service did not answer in time."),
        /** The response has begun: no status can be sent any more, the client connection is closed instead. */
        UPSTREAM_CLOSED_MID_RESPONSE(null, null);

        private final HttpResponseStatus status;
        private final byte[] body;

        Failure(HttpResponseStatus status, String text) {
            this.status = status;
            this.body = text == null ? null : (text + "\n").getBytes(StandardCharsets.US_ASCII);
        }

        /** {@code null} when the answer is closing the connection. */
        HttpResponseStatus status() {
            return status;
        }
    }

    private ErrorResponses() {}

    /** The failure a request that Netty's decoder refused stands for. */
    static Failure forDecoderFailure(Throwable cause) {
        if (cause instanceof TooLongHttpHeaderException) {
            return Failure.HEADERS_TOO_LARGE;
        }
        if (cause instanceof TooLongHttpLineException) {
            return Failure.URI_TOO_LONG;
        }
        return Failure.MALFORMED_REQUEST;
    }

    static FullHttpResponse response(Failure failure) {
        if (failure.status == null) {
            throw new IllegalArgumentException(failure + " has no response");
        }
        ByteBuf body = Unpooled.wrappedBuffer(failure.body);
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, failure.status, body);
        response.headers()
                .set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=us-ascii")
                .set(HttpHeaderNames.CONTENT_LENGTH, body.readableBytes())
                .set(HttpHeaderNames.CACHE_CONTROL, HttpHeaderValues.NO_STORE)
                .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        return response;
    }

    /**
     * Answers {@code failure} on the client channel and closes it once written. Runs on the channel's event loop.
     *
     * @param platform the platform's name for the metric, or {@code null} before routing
     */
    static void send(ChannelHandlerContext ctx, Failure failure, String platform, Metrics metrics) {
        if (failure.status == null) {
            ctx.close();
            return;
        }
        metrics.request(platform == null ? "none" : platform, failure.status.code());
        ctx.writeAndFlush(response(failure)).addListener(ChannelFutureListener.CLOSE);
    }
}
