package io.clicktls;

import io.netty.channel.DefaultSelectStrategyFactory;
import io.netty.channel.SelectStrategy;
import io.netty.channel.SelectStrategyFactory;
import io.netty.util.IntSupplier;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.CopyOnWriteArrayList;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Netty's select strategy (poll without blocking when tasks wait, else block), plus one rule: an event loop that
 * has run without blocking for {@code stallNanos} and finds a sibling event loop of its group waiting for the very core
 * it runs on yields that core once with {@link Thread#yield()}.
 *
 * <p>Why: an event loop that always has work never blocks in {@code epoll_wait}, so only the kernel's tick takes the
 * core from it. When two busy event loops land on one core (the other core running the load generator and the
 * upstream), the scheduler keeps them there (both are cache-hot) and they take turns a whole tick at a time (4 ms at
 * {@code HZ=250}); the connections of the one waiting stall that long. That was the 3-5 ms mode of the keep-alive
 * latency under {@code compare.sh}: {@code perf sched timehist} showed runs of exactly 4 ms by the event loops, one
 * replacing the other on the same core, and none by HAProxy's threads. With this rule they take turns every
 * {@code stallNanos} instead.
 *
 * <p>Only then: a yield pushes the yielding thread's deadline back (EEVDF), so yielding on a timer, or whenever a
 * sibling looked late, gave CPU away to other processes on a busy machine and made the far tail (10-20 ms) worse. A
 * sibling that has not started a turn for {@code stallNanos} is checked in {@code /proc} (its state and the core it is
 * queued on, one {@code pread} each for it and for this thread): a few microseconds, at most once per {@code
 * stallNanos} of uninterrupted work, and nothing while the loops keep blocking in the selector now and then.
 *
 * <p>One instance per event loop, called only on that loop's thread; the siblings read each other's turn times.
 * Linux only: where {@code /proc/thread-self} cannot be read, the rule stays off.
 */
final class YieldingSelectStrategy implements SelectStrategy {

    private static final Logger log = LoggerFactory.getLogger(YieldingSelectStrategy.class);

    private final long stallNanos;
    private final CopyOnWriteArrayList<YieldingSelectStrategy> siblings;
    /** When this loop last started a turn. */
    private volatile long turnNanos = System.nanoTime();
    /** This loop's thread in {@code /proc}, opened on its first turn; {@code null} before or if unreadable. */
    private volatile ThreadStat stat;

    private boolean started;
    /** The last turn ended in a blocking select. */
    private boolean selected = true;
    /** Since when this loop has found work on every turn (it has not blocked). */
    private long busySinceNanos;

    private long lastCheckNanos;

    private YieldingSelectStrategy(long stallNanos, CopyOnWriteArrayList<YieldingSelectStrategy> siblings) {
        this.stallNanos = stallNanos;
        this.siblings = siblings;
    }

    /**
     * A factory for the event loops of one group: the strategies it makes watch each other. {@code stallNanos <= 0}
     * gives Netty's default strategy.
     */
    static SelectStrategyFactory factory(long stallNanos) {
        if (stallNanos <= 0) {
            return DefaultSelectStrategyFactory.INSTANCE;
        }
        CopyOnWriteArrayList<YieldingSelectStrategy> group = new CopyOnWriteArrayList<>();
        return () -> {
            YieldingSelectStrategy strategy = new YieldingSelectStrategy(stallNanos, group);
            group.add(strategy);
            return strategy;
        };
    }

    @Override
    public int calculateStrategy(IntSupplier selectSupplier, boolean hasTasks) throws Exception {
        long now = System.nanoTime();
        turnNanos = now;
        if (!started) {
            started = true;
            stat = ThreadStat.openCurrent();
        }
        if (selected) {
            selected = false;
            busySinceNanos = now;
        }
        // Polling first costs nothing extra when events are ready (it replaces the blocking wait) and one
        // epoll_wait(0) before each sleep otherwise.
        int ready = selectSupplier.get();
        if (ready == 0 && !hasTasks) {
            selected = true;
            return SelectStrategy.SELECT;
        }
        if (now - busySinceNanos >= stallNanos && now - lastCheckNanos >= stallNanos) {
            lastCheckNanos = now;
            if (siblingWaitsForThisCore(now)) {
                Thread.yield();
            }
        }
        return ready;
    }

    /**
     * Whether a sibling that has not started a turn for {@code stallNanos} is runnable on this thread's core. Its
     * flags cannot tell: a loop woken from {@code epoll_wait} is runnable before its next turn says so.
     */
    private boolean siblingWaitsForThisCore(long now) {
        ThreadStat own = stat;
        if (own == null) {
            return false;
        }
        int core = -1;
        for (YieldingSelectStrategy sibling : siblings) {
            ThreadStat theirs = sibling.stat;
            if (sibling == this || theirs == null || now - sibling.turnNanos <= stallNanos) {
                continue;
            }
            if (core < 0) {
                core = own.runnableOn();
                if (core < 0) {
                    return false;
                }
            }
            if (theirs.runnableOn() == core) {
                return true;
            }
        }
        return false;
    }

    /**
     * One thread's {@code /proc/self/task/TID/stat}, kept open and read again from the start when asked. Never closed
     * explicitly (a select strategy is not told when its loop ends): the JDK's cleaner closes the file once the
     * event loop group, and with it this object, is gone.
     */
    static final class ThreadStat {

        private final FileChannel file;
        private final ByteBuffer buffer = ByteBuffer.allocate(1024);

        private ThreadStat(FileChannel file) {
            this.file = file;
        }

        /** The calling thread's; {@code null} where there is no such file. */
        static ThreadStat openCurrent() {
            try {
                String self = Files.readString(Path.of("/proc/thread-self/stat"), StandardCharsets.US_ASCII);
                String tid = self.substring(0, self.indexOf(' '));
                return new ThreadStat(
                        FileChannel.open(Path.of("/proc/self/task", tid, "stat"), StandardOpenOption.READ));
            } catch (IOException | RuntimeException e) {
                log.debug("no /proc/thread-self here; event loops will not yield to each other", e);
                return null;
            }
        }

        /**
         * The core the thread runs or waits on if it is runnable (state {@code R}), else -1. Synchronized: with more
         * than two loops, two may read one sibling's file at once, and the buffer is the file's.
         */
        synchronized int runnableOn() {
            try {
                buffer.clear();
                int length = file.read(buffer, 0);
                return parse(buffer.array(), Math.max(length, 0));
            } catch (IOException e) {
                return -1;
            }
        }

        /**
         * The processor of a {@code stat} line when its state is {@code R}, else -1. After the command name in
         * parentheses come the state (field 3) and, 36 fields later, the processor (field 39).
         */
        static int parse(byte[] line, int length) {
            int i = length - 1;
            while (i >= 0 && line[i] != ')') {
                i--;
            }
            if (i < 0 || i + 2 >= length || line[i + 2] != 'R') {
                return -1;
            }
            int field = 3;
            i += 2;
            while (i < length && field < 39) {
                if (line[i++] == ' ') {
                    field++;
                }
            }
            int value = 0;
            boolean digits = false;
            while (i < length && line[i] >= '0' && line[i] <= '9') {
                value = value * 10 + (line[i++] - '0');
                digits = true;
            }
            return digits ? value : -1;
        }
    }
}
