package io.clicktls.testing;

import java.io.IOException;
import java.time.Duration;

/**
 * Waits for something a test cannot be told about (a file watcher's reload, a background sweep, a scrape that shows
 * a series) by asking again until it holds or a limit passes, instead of sleeping for a guessed time. Polls often at
 * first (5 ms) and less often later (up to every 100 ms). An exception or assertion error thrown by the probe ends
 * the wait at once: it is the test's answer, not a "not yet".
 */
public final class Eventually {

    private static final long FIRST_PAUSE_MILLIS = 5;
    private static final long LONGEST_PAUSE_MILLIS = 100;

    /** A question asked again until it has an answer. */
    @FunctionalInterface
    public interface Probe<T> {
        /** @return the answer, or {@code null} for "not yet" */
        T get() throws Exception;
    }

    /** A condition checked again until it holds. */
    @FunctionalInterface
    public interface Condition {
        boolean holds() throws Exception;
    }

    private Eventually() {}

    /**
     * Waits until {@code condition} holds.
     *
     * @param what what is waited for, as the failure message says it ("the new domain is served")
     * @return how long it took
     * @throws AssertionError when it did not hold within {@code limit}
     */
    public static Duration holds(Duration limit, String what, Condition condition) throws Exception {
        long start = System.nanoTime();
        value(limit, what, () -> condition.holds() ? Boolean.TRUE : null);
        return Duration.ofNanos(System.nanoTime() - start);
    }

    /**
     * For fixtures that start a server process: waits until {@code answers} holds (an {@link IOException} from it
     * means "not listening yet"), failing at once when the process exits. Fails with an unchecked exception that
     * carries the process's log, so fixtures need not declare the waits' exceptions.
     *
     * @param name what the process is called in the failure ("pebble")
     * @param log the process's output so far
     */
    public static void untilAnswers(
            Process process, String name, Duration limit, Condition answers, Probe<String> log) {
        try {
            holds(limit, name + " answers", () -> {
                if (!process.isAlive()) {
                    throw new IllegalStateException(name + " exited with " + process.exitValue() + ":\n" + log.get());
                }
                try {
                    return answers.holds();
                } catch (IOException notListeningYet) {
                    return false;
                }
            });
        } catch (AssertionError e) {
            throw new IllegalStateException(e.getMessage() + ":\n" + logOrWhy(log), e);
        } catch (RuntimeException e) {
            throw e;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static String logOrWhy(Probe<String> log) {
        try {
            return log.get();
        } catch (Exception e) {
            return "(no log: " + e + ")";
        }
    }

    /**
     * Waits until {@code probe} answers something other than {@code null}, and returns that.
     *
     * @param what what is waited for, as the failure message says it
     * @throws AssertionError when no answer came within {@code limit}
     */
    public static <T> T value(Duration limit, String what, Probe<T> probe) throws Exception {
        long deadline = System.nanoTime() + limit.toNanos();
        long pause = FIRST_PAUSE_MILLIS;
        while (true) {
            T answer = probe.get();
            if (answer != null) {
                return answer;
            }
            if (System.nanoTime() - deadline >= 0) {
                throw new AssertionError("not within " + limit.toMillis() + " ms: " + what);
            }
            Thread.sleep(pause);
            pause = Math.min(pause * 2, LONGEST_PAUSE_MILLIS);
        }
    }
}
