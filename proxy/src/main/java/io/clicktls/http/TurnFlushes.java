package io.clicktls.http;

import io.netty.channel.ChannelHandlerContext;
import io.netty.util.concurrent.FastThreadLocal;
import java.util.ArrayList;

/**
 * Client flushes held until the end of the event loop's turn: the loop first handles every upstream read that is
 * ready, then flushes the client channels they wrote to one after the other. Responses then leave in one burst
 * instead of spread over the turn, so a client (a load generator, a browser's network thread) waiting on many
 * connections is woken once for several of them rather than once each. Each channel still gets its own flush.
 *
 * <p>One instance per event-loop thread; runs on that event loop and must not block. A flush is only ever put
 * off to a task of the same loop, which runs after the I/O events of the current turn.
 */
final class TurnFlushes implements Runnable {

    private static final FastThreadLocal<TurnFlushes> PER_LOOP = new FastThreadLocal<>() {
        @Override
        protected TurnFlushes initialValue() {
            return new TurnFlushes();
        }
    };

    private ArrayList<ChannelHandlerContext> pending = new ArrayList<>();
    private ArrayList<ChannelHandlerContext> spare = new ArrayList<>();
    private boolean scheduled;

    private TurnFlushes() {
    }

    /** Flushes {@code ctx} once this turn's I/O is handled. Must be called on {@code ctx}'s event loop. */
    static void flushLater(ChannelHandlerContext ctx) {
        TurnFlushes flushes = PER_LOOP.get();
        flushes.pending.add(ctx);
        if (!flushes.scheduled) {
            flushes.scheduled = true;
            ctx.executor().execute(flushes);
        }
    }

    @Override
    public void run() {
        scheduled = false;
        // Swapped first: a flush may fail, close its channel and cause another flushLater for the next turn.
        ArrayList<ChannelHandlerContext> now = pending;
        pending = spare;
        spare = now;
        for (int i = 0; i < now.size(); i++) {
            now.get(i).flush();
        }
        now.clear();
    }
}
