package io.clicktls.testing;

import static java.nio.charset.StandardCharsets.UTF_8;

import io.clicktls.storage.Storage;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * A counter kept under one storage key and incremented with {@link Storage#update} from many threads at once, spread
 * over several storages (nodes) on the same data: the test of an update that must lose nothing.
 */
public final class ConcurrentCounter {

    private ConcurrentCounter() {}

    /**
     * Runs {@code threads} threads, thread {@code t} on {@code nodes[t % nodes.length]}, each adding 1 to the decimal
     * counter under {@code key} {@code perThread} times, and waits for them.
     *
     * @return the counter as one node reads it afterwards
     */
    public static int incrementEverywhere(Storage[] nodes, String key, int threads, int perThread) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                Storage node = nodes[t % nodes.length];
                done.add(pool.submit(() -> {
                    for (int i = 0; i < perThread; i++) {
                        node.update(key, current -> String.valueOf(
                                        current.map(ConcurrentCounter::value).orElse(0) + 1)
                                .getBytes(UTF_8));
                    }
                    return null;
                }));
            }
            for (Future<?> future : done) {
                future.get();
            }
        } finally {
            pool.shutdown();
        }
        return nodes[0].load(key).map(ConcurrentCounter::value).orElse(0);
    }

    private static int value(byte[] stored) {
        return Integer.parseInt(new String(stored, UTF_8));
    }
}
