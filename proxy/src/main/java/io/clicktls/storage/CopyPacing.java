package io.clicktls.storage;

import java.time.Duration;
import java.util.function.LongSupplier;

/**
 * How much of a core the updates of a node's local copy ({@link CachedStorage}) may take. They are background work, but
 * not small: a node joining a cluster of 100,000 certificates copies each one's {@code meta.json} from its index scan
 * (a folder and a file each, about 0.4 ms of kernel time on a small virtual machine: some 45 s of one core), and each
 * certificate a handshake reads costs a folder and three files. Run flat out, that work takes most of a core for a
 * minute after the start, just when handshakes for names not in memory need the cores, and adds to their tail
 * latency. After each step the copying thread pauses so that its busy time stays within {@link #share}; a step that
 * took long because the cores were busy earns a longer pause, so the copy gives way to a busy machine.
 *
 * <p>Threading: {@link #run} is called by the one thread that updates the copy (it sleeps on that thread, never on a
 * caller that runs an update itself because the copying queue is full). Not thread-safe.
 */
public final class CopyPacing {

    /** See {@link #background}. */
    static final double BACKGROUND_SHARE = 0.25;
    /** Pausing for less is not worth a sleep: owed pauses add up until they reach this. */
    static final Duration SHORTEST_PAUSE = Duration.ofMillis(2);
    /** One step that took very long (a listing of the whole copy) is not followed by a pause of minutes. */
    static final Duration LONGEST_PAUSE = Duration.ofSeconds(1);

    /** A sleep of the calling thread; a seam for tests. */
    @FunctionalInterface
    interface Sleeper {
        void sleep(long nanos) throws InterruptedException;
    }

    private final double share;
    private final LongSupplier nanoClock;
    private final Sleeper sleeper;
    private long owedNanos;

    private CopyPacing(double share, LongSupplier nanoClock, Sleeper sleeper) {
        this.share = share;
        this.nanoClock = nanoClock;
        this.sleeper = sleeper;
    }

    /** Steps run back to back, without pauses. */
    public static CopyPacing flatOut() {
        return new CopyPacing(1, System::nanoTime, nanos -> {});
    }

    /**
     * What a node's copy takes: a quarter of one core. The copy of a first start at 100,000 certificates then takes a
     * few minutes instead of one; a certificate a handshake read (about 1 ms of work) is copied within milliseconds
     * unless a backlog is in the way, and 250 such reads a second keep it busy.
     */
    public static CopyPacing background() {
        return share(BACKGROUND_SHARE);
    }

    /** Busy at most {@code share} of the time (0 < share <= 1), measured over the steps. */
    public static CopyPacing share(double share) {
        return share(share, System::nanoTime, nanos -> Thread.sleep(nanos / 1_000_000, (int) (nanos % 1_000_000)));
    }

    static CopyPacing share(double share, LongSupplier nanoClock, Sleeper sleeper) {
        if (!(share > 0 && share <= 1)) {
            throw new IllegalArgumentException("share: " + share + " (expected: more than 0, at most 1)");
        }
        return new CopyPacing(share, nanoClock, sleeper);
    }

    /** The share of the time the copying thread may be busy. */
    public double share() {
        return share;
    }

    /** Runs {@code step}, then pauses as long as the share asks for, once the pauses owed add up to a sleep. */
    public void run(Runnable step) {
        long start = nanoClock.getAsLong();
        try {
            step.run();
        } finally {
            pauseAfter(nanoClock.getAsLong() - start);
        }
    }

    private void pauseAfter(long busyNanos) {
        if (share >= 1) {
            return;
        }
        owedNanos = Math.min(LONGEST_PAUSE.toNanos(), owedNanos + (long) (busyNanos * (1 / share - 1)));
        if (owedNanos < SHORTEST_PAUSE.toNanos()) {
            return;
        }
        long pause = owedNanos;
        owedNanos = 0;
        try {
            sleeper.sleep(pause);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt(); // the executor is stopping: no more pauses matter
        }
    }
}
