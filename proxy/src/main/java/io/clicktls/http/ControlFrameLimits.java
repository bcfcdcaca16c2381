package io.clicktls.http;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameListener;
import io.netty.handler.codec.http2.Http2FrameListenerDecorator;
import io.netty.handler.codec.http2.Http2Settings;
import java.util.Arrays;

/**
 * Per-connection rate limits on the HTTP/2 control frames that Netty acts on without limit: WINDOW_UPDATE, SETTINGS,
 * PING and PRIORITY. Each costs the client a few bytes and us a frame's decoding and bookkeeping (an acknowledgement
 * for SETTINGS and PING), so an endless stream of them keeps a core busy. Past a kind's limit within one window the
 * connection ends with GOAWAY ENHANCE_YOUR_CALM, as Netty's own RST_STREAM limit does. (RST_STREAM, empty DATA
 * frames and unread acknowledgements are limited by Netty, see {@link ListenerPipelines}.)
 *
 * <p>Counts are kept per fixed window, restarted at the first frame after a window has passed. Runs on the
 * connection's event loop, inside the HTTP/2 decoder; not sharable.
 */
final class ControlFrameLimits extends Http2FrameListenerDecorator {

    /** The control frames limited, each with its limit per window. */
    private enum Kind {
        WINDOW_UPDATE(ProxySettings.H2_MAX_WINDOW_UPDATES),
        SETTINGS(ProxySettings.H2_MAX_SETTINGS),
        PING(ProxySettings.H2_MAX_PINGS),
        PRIORITY(ProxySettings.H2_MAX_PRIORITY);

        final int limit;

        Kind(int limit) {
            this.limit = limit;
        }
    }

    private final long windowNanos;
    private long windowStart = System.nanoTime();
    /** Frames of each {@link Kind} (by ordinal) within the current window. */
    private final int[] counts = new int[Kind.values().length];

    private ControlFrameLimits(Http2FrameListener listener) {
        super(listener);
        this.windowNanos = ProxySettings.H2_CONTROL_FRAME_WINDOW.toNanos();
    }

    /** Puts the limits in front of {@code codec}'s own frame listener. Call once, before the codec is used. */
    static Http2FrameCodec install(Http2FrameCodec codec) {
        codec.decoder().frameListener(new ControlFrameLimits(codec.decoder().frameListener()));
        return codec;
    }

    @Override
    public void onWindowUpdateRead(ChannelHandlerContext ctx, int streamId, int windowSizeIncrement)
            throws Http2Exception {
        count(Kind.WINDOW_UPDATE);
        super.onWindowUpdateRead(ctx, streamId, windowSizeIncrement);
    }

    @Override
    public void onSettingsRead(ChannelHandlerContext ctx, Http2Settings frame) throws Http2Exception {
        count(Kind.SETTINGS);
        super.onSettingsRead(ctx, frame);
    }

    @Override
    public void onPingRead(ChannelHandlerContext ctx, long data) throws Http2Exception {
        count(Kind.PING);
        super.onPingRead(ctx, data);
    }

    @Override
    public void onPriorityRead(
            ChannelHandlerContext ctx, int streamId, int streamDependency, short weight, boolean exclusive)
            throws Http2Exception {
        count(Kind.PRIORITY);
        super.onPriorityRead(ctx, streamId, streamDependency, weight, exclusive);
    }

    /** Counts one frame of {@code kind} in the current window (a new one once it has passed); throws past the limit. */
    private void count(Kind kind) throws Http2Exception {
        long now = System.nanoTime();
        if (now - windowStart >= windowNanos) {
            windowStart = now;
            Arrays.fill(counts, 0);
        }
        if (++counts[kind.ordinal()] > kind.limit) {
            throw tooMany(kind.name(), kind.limit);
        }
    }

    /**
     * A connection error: Netty's connection handler answers it with GOAWAY carrying its code and closes right after
     * (hard shutdown: the client is not owed its streams in flight); {@link LingeringClose} makes sure the client
     * still reads the GOAWAY while its flood is arriving.
     */
    private static Http2Exception tooMany(String kind, int limit) {
        return new Http2Exception(
                Http2Error.ENHANCE_YOUR_CALM,
                "more than " + limit + " " + kind + " frames within "
                        + ProxySettings.H2_CONTROL_FRAME_WINDOW.toSeconds() + " s",
                Http2Exception.ShutdownHint.HARD_SHUTDOWN);
    }
}
