package io.clicktls.http;

import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * Lets one log line per key through per interval and counts the lines it holds back, so that a flood any client can
 * cause costs a line every few seconds instead of one per connection. The caller logs when {@link #admit} says so
 * and adds the count of lines suppressed since the last one.
 *
 * <p>Thread-safe and lock-free: called on event loops. Keys must come from a small fixed set (kinds of errors), never
 * from client input: an entry is kept per key.
 */
final class RateLimitedLog {

    /** {@link #admit} returns this when the line is to be dropped. */
    static final long SUPPRESS = -1;

    private final long intervalNanos;
    private final LongSupplier nanoTime;
    private final ConcurrentMap<String, Window> windows = new ConcurrentHashMap<>();

    RateLimitedLog(Duration interval) {
        this(interval, System::nanoTime);
    }

    /** @param nanoTime a monotonic clock in nanoseconds (tests pass their own) */
    RateLimitedLog(Duration interval, LongSupplier nanoTime) {
        this.intervalNanos = interval.toNanos();
        this.nanoTime = nanoTime;
    }

    /**
     * Whether a line for {@code key} may be logged now.
     *
     * @return {@link #SUPPRESS}, or the number of lines for {@code key} suppressed since the last one admitted
     */
    long admit(String key) {
        long now = nanoTime.getAsLong();
        Window window = windows.get(key);
        if (window == null) {
            window = windows.computeIfAbsent(key, k -> new Window(now));
        }
        long next = window.next.get();
        if (now - next >= 0 && window.next.compareAndSet(next, now + intervalNanos)) {
            return window.suppressed.getAndSet(0);
        }
        window.suppressed.incrementAndGet();
        return SUPPRESS;
    }

    /** {@code ""}, or {@code " (N more like it since the last line)"} for a count {@link #admit} returned. */
    static String suppressedNote(long suppressed) {
        return suppressed <= 0 ? "" : " (" + suppressed + " more like it since the last line)";
    }

    private static final class Window {
        /** When the next line may pass; the first passes at once. */
        final AtomicLong next;

        final AtomicLong suppressed = new AtomicLong();

        Window(long now) {
            this.next = new AtomicLong(now);
        }
    }
}
