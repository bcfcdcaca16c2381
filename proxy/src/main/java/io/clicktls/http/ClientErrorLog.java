package io.clicktls.http;

import io.clicktls.metrics.Metrics;
import io.clicktls.tls.ClientAddress;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.CodecException;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2FrameStreamException;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.timeout.TimeoutException;
import java.io.IOException;
import java.time.Duration;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The last handler of every client pipeline (https connection, HTTP/1.1, HTTP/2 connection and stream, plain http):
 * an error that reaches it closes the connection (or the HTTP/2 stream). An error a client can cause (a reset
 * connection, a TLS alert, a malformed or oversized HTTP/1.1 message, an HTTP/2 protocol error, a timeout) is counted
 * in {@code clicktls_client_errors_total{kind}} and logged as one line without a stack trace, at most one line per
 * kind every {@link #INTERVAL}, with the number held back since. Anything else is a bug of ours: counted in
 * {@code clicktls_unexpected_errors_total} and logged with its stack trace (also at most once per interval).
 *
 * <p>Sharable, stateless per connection; runs on the channel's event loop and does not block.
 */
@ChannelHandler.Sharable
final class ClientErrorLog extends ChannelInboundHandlerAdapter {

    static final String NAME = "client-errors";
    static final Duration INTERVAL = Duration.ofSeconds(10);
    private static final Logger log = LoggerFactory.getLogger(ClientErrorLog.class);
    private static final String UNEXPECTED = "unexpected";
    /** How deep a chain of causes is followed: Netty wraps at most two or three times. */
    private static final int MAX_CAUSES = 8;

    private static final int MAX_MESSAGE = 200;

    private final Metrics metrics;
    private final RateLimitedLog lines;

    ClientErrorLog(Metrics metrics) {
        this(metrics, new RateLimitedLog(INTERVAL));
    }

    ClientErrorLog(Metrics metrics, RateLimitedLog lines) {
        this.metrics = metrics;
        this.lines = lines;
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        String kind = kind(cause);
        Channel channel = ctx.channel();
        if (kind == null) {
            metrics.unexpectedError();
            long suppressed = lines.admit(UNEXPECTED);
            if (suppressed != RateLimitedLog.SUPPRESS) {
                log.warn(
                        "unexpected error on the connection from {}, closed{}",
                        client(channel),
                        RateLimitedLog.suppressedNote(suppressed),
                        cause);
            }
        } else {
            metrics.clientError(kind);
            long suppressed = lines.admit(kind);
            if (suppressed != RateLimitedLog.SUPPRESS) {
                log.info(
                        "closed {} from {} on a client error ({}): {}{}",
                        channel instanceof Http2StreamChannel ? "an HTTP/2 stream" : "a connection",
                        client(channel),
                        kind,
                        message(cause),
                        RateLimitedLog.suppressedNote(suppressed));
            }
        }
        if (cause instanceof Http2Exception && !(cause instanceof Http2Exception.StreamException)) {
            // An HTTP/2 connection error: Netty's frame codec fires it here first, then sends GOAWAY with its code
            // (ENHANCE_YOUR_CALM for a flood, PROTOCOL_ERROR, ...) and closes. Closing now would send GOAWAY
            // NO_ERROR ahead of it, and the client would not learn why.
            return;
        }
        ctx.close();
    }

    /**
     * What a client did to cause {@code cause}: one of {@link Metrics#CLIENT_ERROR_KINDS}, or {@code null} when no
     * client can cause it. A decoder or HTTP/2 error that wraps an exception of another sort (a handler of ours threw
     * while decoding) is judged by what it wraps.
     */
    static String kind(Throwable cause) {
        Throwable t = cause;
        for (int depth = 0; t != null && depth < MAX_CAUSES; depth++, t = t.getCause()) {
            if (t instanceof Http2FrameStreamException) {
                continue; // the stream's wrapper of an Http2Exception
            }
            if (t instanceof Http2Exception h2) {
                if (h2.error() == Http2Error.INTERNAL_ERROR && h2.getCause() != null) {
                    continue; // Netty's wrapper of something else that went wrong
                }
                return "http2";
            }
            if (t instanceof SSLException) {
                return "tls";
            }
            if (t instanceof TooLongFrameException) {
                return "too_long";
            }
            if (t instanceof TimeoutException) {
                return "timeout";
            }
            if (t instanceof IOException) {
                return "connection"; // reset by peer, broken pipe, closed channel
            }
            if (t instanceof CodecException) {
                if (t.getCause() != null && t.getCause() != t) {
                    continue; // DecoderException(cause): a decoder, or a handler behind it, threw
                }
                return t instanceof DecoderException ? "malformed" : null;
            }
            return null;
        }
        return null;
    }

    private static Object client(Channel channel) {
        return ClientAddress.forLog(channel);
    }

    /**
     * The message of the innermost cause that has one ({@code Connection reset by peer}, not its wrappers'), cut to
     * {@link #MAX_MESSAGE} characters with control characters replaced: it may quote what the client sent.
     */
    static String message(Throwable cause) {
        String message = cause.getClass().getSimpleName();
        Throwable t = cause;
        for (int depth = 0; t != null && depth < MAX_CAUSES; depth++, t = t.getCause()) {
            if (t.getMessage() != null && !t.getMessage().isBlank()) {
                message = t.getClass().getSimpleName() + ": " + t.getMessage();
            }
        }
        StringBuilder clean = new StringBuilder(Math.min(message.length(), MAX_MESSAGE + 1));
        for (int i = 0; i < message.length() && i < MAX_MESSAGE; i++) {
            char c = message.charAt(i);
            clean.append(c < 0x20 || c == 0x7f ? '?' : c);
        }
        if (message.length() > MAX_MESSAGE) {
            clean.append('…');
        }
        return clean.toString();
    }
}
