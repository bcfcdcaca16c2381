package io.clicktls.tls;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Runs the storage reads that handshakes wait for (a certificate not in memory: read, parse, build its TLS context) on
 * a few threads of their own, so that such a read never queues behind issuance, DNS checks, {@code ask} requests or
 * storage scans on the shared blocking executor. A read is a fraction of a millisecond of CPU, so a couple of threads
 * keep up with the cores of a small machine.
 *
 * <p>Bounded: when its own queue is full, a task goes to the fallback executor (the shared blocking one), so that a
 * burst of new names is served as it was before this executor existed; when the fallback refuses too, or after
 * {@link #close}, {@link #execute} throws {@link RejectedExecutionException} at once, never waits for room.
 *
 * <p>Threading: {@link #execute} may be called from any thread, event loops included; it never blocks. The tasks run
 * on daemon threads named {@code clicktls-certificate-load-N}. Thread-safe.
 */
public final class CertificateLoadExecutor implements Executor, AutoCloseable {

    private final ThreadPoolExecutor pool;
    private final Executor fallback;
    private final AtomicLong fallbacks = new AtomicLong();

    private CertificateLoadExecutor(int threads, int queue, Executor fallback) {
        this.fallback = fallback;
        AtomicInteger count = new AtomicInteger();
        ThreadFactory factory = runnable -> {
            Thread thread = new Thread(runnable, "clicktls-certificate-load-" + count.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        };
        // Threads stay: a load after a quiet minute should not wait for a thread to start.
        this.pool = new ThreadPoolExecutor(
                threads, threads, 0, TimeUnit.MILLISECONDS, new ArrayBlockingQueue<>(queue), factory, this::overflow);
    }

    /**
     * @param threads how many loads run at once
     * @param queue how many loads may wait for a thread before new ones go to {@code fallback}
     * @param fallback takes the loads that do not fit; must not run them on the caller (an event loop)
     */
    public static CertificateLoadExecutor create(int threads, int queue, Executor fallback) {
        if (threads < 1 || queue < 1) {
            throw new IllegalArgumentException("threads and queue must be positive: " + threads + ", " + queue);
        }
        if (fallback == null) {
            throw new IllegalArgumentException("no fallback executor");
        }
        return new CertificateLoadExecutor(threads, queue, fallback);
    }

    /** @throws RejectedExecutionException when closed, or when both this executor and the fallback are full */
    @Override
    public void execute(Runnable task) {
        pool.execute(task);
    }

    /** How many tasks went to the fallback executor because the queue was full. */
    public long fallbacks() {
        return fallbacks.get();
    }

    /** Stops the threads; queued loads are dropped (their futures never complete: the process is stopping). */
    @Override
    public void close() {
        pool.shutdownNow();
    }

    private void overflow(Runnable task, ThreadPoolExecutor executor) {
        if (executor.isShutdown()) {
            throw new RejectedExecutionException("certificate loads are closed");
        }
        fallbacks.incrementAndGet();
        fallback.execute(task); // throws when the fallback is full too
    }
}
