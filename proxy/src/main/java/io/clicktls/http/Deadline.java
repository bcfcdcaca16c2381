package io.clicktls.http;

import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Ticker;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * A deadline that moves on every request and is rarely reached: moving or clearing it is a field write, and one
 * scheduled check per expiry period looks at where it stands when it runs (then runs the expiry, checks again later,
 * or stops). A schedule and a cancel per request each cost a task allocation and a priority-queue update on the
 * event loop, several times per request on the keep-alive path.
 *
 * <p>Confined to one event loop: every method must be called on {@code executor}, and the expiry runs on it.
 */
final class Deadline {

    private static final long NONE = Long.MIN_VALUE;

    private final EventExecutor executor;
    private final Ticker ticker;
    private final Runnable expiry;
    private long deadlineNanos = NONE;
    private ScheduledFuture<?> check;
    private long checkAtNanos;

    Deadline(EventExecutor executor, Runnable expiry) {
        this.executor = executor;
        this.ticker = executor.ticker(); // the loop's own clock: tests freeze and advance it
        this.expiry = expiry;
    }

    /** Expires {@code delayMillis} from now, unless moved or cleared before. */
    void expireIn(long delayMillis) {
        long now = ticker.nanoTime();
        deadlineNanos = now + TimeUnit.MILLISECONDS.toNanos(delayMillis);
        if (check != null && checkAtNanos - deadlineNanos > 0) {
            // the pending check would come too late for the earlier deadline
            check.cancel(false);
            check = null;
        }
        if (check == null) {
            schedule(deadlineNanos - now);
        }
    }

    /** No deadline until the next {@link #expireIn}; a pending check finds nothing and stops. */
    void clear() {
        deadlineNanos = NONE;
    }

    /** Clears the deadline and cancels the pending check: for a connection that is gone. */
    void cancel() {
        deadlineNanos = NONE;
        if (check != null) {
            check.cancel(false);
            check = null;
        }
    }

    boolean isSet() {
        return deadlineNanos != NONE;
    }

    private void schedule(long delayNanos) {
        checkAtNanos = ticker.nanoTime() + delayNanos;
        check = executor.schedule(this::checkNow, delayNanos, TimeUnit.NANOSECONDS);
    }

    private void checkNow() {
        check = null;
        if (deadlineNanos == NONE) {
            return;
        }
        long left = deadlineNanos - ticker.nanoTime();
        if (left > 0) {
            schedule(left);
            return;
        }
        deadlineNanos = NONE;
        expiry.run();
    }
}
