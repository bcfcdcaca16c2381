package io.clicktls.certificates;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Ticker;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Logs at INFO that a name was refused a certificate ({@code refused a certificate for X: not_configured}), at most
 * once per name per {@link #PER_NAME} and at most {@link #PER_MINUTE} lines a minute in all: scanners send random
 * SNI by the thousand, and an operator still wants to see that their own customer's name is being refused.
 *
 * <p>Thread-safe; never blocks, so it may be called on an event loop.
 */
public final class RefusalLog {

    static final Duration PER_NAME = Duration.ofMinutes(10);
    static final int PER_MINUTE = 10;
    private static final long MINUTE_NANOS = Duration.ofMinutes(1).toNanos();
    private static final Logger log = LoggerFactory.getLogger(RefusalLog.class);

    private final Ticker ticker;
    private final Cache<String, Boolean> recent;
    /** The nanoTime at which the bucket is full again; each line moves it one slot ahead. */
    private final AtomicLong fullAt;

    public RefusalLog() {
        this(Ticker.systemTicker());
    }

    RefusalLog(Ticker ticker) {
        this.ticker = ticker;
        this.recent = Caffeine.newBuilder()
                .maximumSize(10_000)
                .expireAfterWrite(PER_NAME)
                .ticker(ticker)
                .executor(Runnable::run)
                .build();
        this.fullAt = new AtomicLong(ticker.read() - MINUTE_NANOS);
    }

    /**
     * Logs the refusal unless one of the bounds says not to.
     *
     * @return whether a line was written
     */
    public boolean refused(String name, String reason) {
        if (!log.isInfoEnabled() || !shouldLog(name)) {
            return false;
        }
        log.info("refused a certificate for {}: {}", printable(name), reason);
        return true;
    }

    /** SNI comes from strangers: no control characters or unbounded lengths in the log. */
    static String printable(String name) {
        StringBuilder text = new StringBuilder(Math.min(name.length(), 253));
        for (int i = 0; i < name.length() && i < 253; i++) {
            char c = name.charAt(i);
            text.append(c > 0x20 && c < 0x7f ? c : '?');
        }
        return text.toString();
    }

    /** Both bounds, without logging; package-private for tests. */
    boolean shouldLog(String name) {
        if (recent.asMap().putIfAbsent(name, Boolean.TRUE) != null) {
            return false;
        }
        long slot = MINUTE_NANOS / PER_MINUTE;
        while (true) {
            long now = ticker.read();
            long current = fullAt.get();
            long base = Math.max(current, now - MINUTE_NANOS); // a bucket never holds more than a minute's lines
            if (base + slot > now) {
                recent.invalidate(name); // not logged: the name may be logged once the bucket has room
                return false;
            }
            if (fullAt.compareAndSet(current, base + slot)) {
                return true;
            }
        }
    }
}
