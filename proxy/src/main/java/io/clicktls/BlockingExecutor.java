package io.clicktls;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The bounded executor for blocking work (storage I/O, ACME, DNS checks): never an event loop. A full queue
 * rejects rather than running the task on the caller, since the caller is usually an event loop.
 */
final class BlockingExecutor {

    private BlockingExecutor() {}

    static ExecutorService create(int threads, int queue) {
        return create("clicktls-blocking", threads, queue);
    }

    /** @param name what its threads are called, followed by {@code -N} */
    static ExecutorService create(String name, int threads, int queue) {
        AtomicInteger count = new AtomicInteger();
        ThreadFactory factory = runnable -> {
            Thread thread = new Thread(runnable, name + "-" + count.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        };
        ThreadPoolExecutor executor = new ThreadPoolExecutor(
                threads,
                threads,
                60,
                TimeUnit.SECONDS,
                new ArrayBlockingQueue<>(queue),
                factory,
                new ThreadPoolExecutor.AbortPolicy());
        executor.allowCoreThreadTimeOut(true);
        return executor;
    }
}
