package io.clicktls.http;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameListener;
import io.netty.handler.codec.http2.Http2FrameListenerDecorator;
import io.netty.handler.codec.http2.Http2Settings;

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

    private final long windowNanos;
    private long windowStart = System.nanoTime();
    private int windowUpdates;
    private int settings;
    private int pings;
    private int priorities;

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
        restartWindowIfOver();
        if (++windowUpdates > ProxySettings.H2_MAX_WINDOW_UPDATES) {
            throw tooMany("WINDOW_UPDATE", ProxySettings.H2_MAX_WINDOW_UPDATES);
        }
        super.onWindowUpdateRead(ctx, streamId, windowSizeIncrement);
    }

    @Override
    public void onSettingsRead(ChannelHandlerContext ctx, Http2Settings frame) throws Http2Exception {
        restartWindowIfOver();
        if (++settings > ProxySettings.H2_MAX_SETTINGS) {
            throw tooMany("SETTINGS", ProxySettings.H2_MAX_SETTINGS);
        }
        super.onSettingsRead(ctx, frame);
    }

    @Override
    public void onPingRead(ChannelHandlerContext ctx, long data) throws Http2Exception {
        restartWindowIfOver();
        if (++pings > ProxySettings.H2_MAX_PINGS) {
            throw tooMany("PING", ProxySettings.H2_MAX_PINGS);
        }
        super.onPingRead(ctx, data);
    }

    @Override
    public void onPriorityRead(
            ChannelHandlerContext ctx, int streamId, int streamDependency, short weight, boolean exclusive)
            throws Http2Exception {
        restartWindowIfOver();
        if (++priorities > ProxySettings.H2_MAX_PRIORITY) {
            throw tooMany("PRIORITY", ProxySettings.H2_MAX_PRIORITY);
        }
        super.onPriorityRead(ctx, streamId, streamDependency, weight, exclusive);
    }

    private void restartWindowIfOver() {
        long now = System.nanoTime();
        if (now - windowStart >= windowNanos) {
            windowStart = now;
            windowUpdates = 0;
            settings = 0;
            pings = 0;
            priorities = 0;
        }
    }

    /**
     * A connection error: Netty's connection handler answers it with GOAWAY carrying its code and closes at once
     * (hard shutdown: the client is not owed its streams in flight).
     */
    private static Http2Exception tooMany(String kind, int limit) {
        return new Http2Exception(
                Http2Error.ENHANCE_YOUR_CALM,
                "more than " + limit + " " + kind + " frames within "
                        + ProxySettings.H2_CONTROL_FRAME_WINDOW.toSeconds() + " s",
                Http2Exception.ShutdownHint.HARD_SHUTDOWN);
    }
}
