package io.clicktls.cli;

import io.clicktls.storage.Storage;
import io.clicktls.storage.StorageKeys;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * Copies every stored value of one {@link Storage} into another, through the interface only, so that each backend
 * opens and seals private keys with its own settings (a key encrypted in PostgreSQL arrives in a folder as the PEM
 * it was, and the other way round). What is copied: every key but the challenges being validated (they are only
 * useful to the node that ordered, for a minute) — names starting with a dot (locks, temporary files) are never keys
 * and never listed.
 *
 * <p>Idempotent: a value already equal in the target is left alone, so a second run copies nothing and an
 * interrupted run can simply be repeated. A certificate entry's {@code meta.json} is written after its chain and key,
 * as the node does: a node reading the target meanwhile sees the old entry or the new one, never a mix it would
 * accept. Nothing in the target is deleted.
 *
 * <p>Blocking: runs on the caller's thread and on {@code workers} threads of its own, closed when {@link #run}
 * returns; for the command line, not for an event loop.
 */
final class StorageCopy {

    /** A key that could not be copied, and why (the storage's message, which names the key and never a value). */
    record Failure(String key, String reason) {}

    /**
     * @param copied values written to the target
     * @param unchanged values already equal in the target
     * @param vanished keys listed in the source but gone when read (a running node deleted them meanwhile)
     * @param skipped challenges in flight, not copied
     * @param bytes the size of the values copied
     */
    record Summary(
            int copied, int unchanged, int vanished, int skipped, List<Failure> failures, long bytes, Duration took) {

        int failed() {
            return failures.size();
        }
    }

    /** How often a long copy says how far it got, at most. */
    static final Duration PROGRESS_EVERY = Duration.ofSeconds(1);

    private static final String CHALLENGES = "challenges/";

    private final Storage from;
    private final Storage to;
    private final int workers;
    private final Clock clock;
    private final Consumer<String> progress;

    private final AtomicInteger copied = new AtomicInteger();
    private final AtomicInteger unchanged = new AtomicInteger();
    private final AtomicInteger vanished = new AtomicInteger();
    private final AtomicLong bytes = new AtomicLong();
    private final ConcurrentLinkedQueue<Failure> failures = new ConcurrentLinkedQueue<>();
    private long nextProgressMillis;
    private int total;

    /**
     * @param workers how many keys are copied at once: a database a few milliseconds away is worth several
     * @param clock decides when a progress line is due
     * @param progress receives a line at most every {@link #PROGRESS_EVERY}, never in the first one
     */
    StorageCopy(Storage from, Storage to, int workers, Clock clock, Consumer<String> progress) {
        this.from = from;
        this.to = to;
        this.workers = workers;
        this.clock = clock;
        this.progress = progress;
    }

    /** Whether {@code key} is copied: everything but challenges being validated. */
    static boolean copies(String key) {
        return !key.startsWith(CHALLENGES);
    }

    /**
     * Copies every key.
     *
     * @throws IOException when the source cannot even be listed; a key that fails is in the summary instead
     */
    Summary run() throws IOException, InterruptedException {
        long start = clock.millis();
        List<String> listed = from.list("");
        List<String> keys = listed.stream().filter(StorageCopy::copies).toList();
        total = keys.size();
        nextProgressMillis = clock.millis() + PROGRESS_EVERY.toMillis();
        ExecutorService pool = Executors.newFixedThreadPool(workers, runnable -> {
            Thread thread = new Thread(runnable, "clicktls-storage-copy");
            thread.setDaemon(true);
            return thread;
        });
        try {
            List<Future<?>> running = new ArrayList<>();
            for (List<String> group : groups(keys)) {
                running.add(pool.submit(() -> group.forEach(this::copy)));
            }
            for (Future<?> each : running) {
                try {
                    each.get();
                } catch (ExecutionException e) {
                    // copy() catches what a key can throw; anything else is a bug worth its stack trace
                    throw new IllegalStateException(e.getCause());
                }
            }
        } finally {
            pool.shutdownNow();
        }
        List<Failure> failed = new ArrayList<>(failures);
        failed.sort(Comparator.comparing(Failure::key));
        return new Summary(
                copied.get(),
                unchanged.get(),
                vanished.get(),
                listed.size() - keys.size(),
                List.copyOf(failed),
                bytes.get(),
                Duration.ofMillis(clock.millis() - start));
    }

    /**
     * The keys in the order they are written: a certificate entry's keys together, its {@code meta.json} last (an
     * entry without it reads as absent); every other key on its own.
     */
    static List<List<String>> groups(List<String> keys) {
        Map<String, List<String>> byEntry = new LinkedHashMap<>();
        for (String key : keys.stream().sorted().toList()) {
            byEntry.computeIfAbsent(entry(key), unused -> new ArrayList<>()).add(key);
        }
        Comparator<String> metaLast = Comparator.comparing(key -> key.endsWith("/" + StorageKeys.META_FILE));
        List<List<String>> groups = new ArrayList<>();
        for (List<String> group : byEntry.values()) {
            group.sort(metaLast.thenComparing(Comparator.naturalOrder()));
            groups.add(group);
        }
        return groups;
    }

    /** {@code certificates/<name>/} for a certificate entry's keys, else the key itself. */
    private static String entry(String key) {
        if (!key.startsWith(StorageKeys.CERTIFICATES)) {
            return key;
        }
        int slash = key.indexOf('/', StorageKeys.CERTIFICATES.length());
        return slash < 0 ? key : key.substring(0, slash + 1);
    }

    private void copy(String key) {
        try {
            Optional<byte[]> value = from.load(key);
            if (value.isEmpty()) {
                vanished.incrementAndGet();
            } else if (sameIn(to, key, value.get())) {
                unchanged.incrementAndGet();
            } else {
                to.store(key, value.get());
                copied.incrementAndGet();
                bytes.addAndGet(value.get().length);
            }
        } catch (IOException | RuntimeException e) {
            // A key the target's rules refuse (IllegalArgumentException) is as much this key's failure as I/O.
            failures.add(new Failure(key, e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage()));
        }
        reportProgress();
    }

    /** Compared as read back through the target, so an encrypted private key compares as the PEM it holds. */
    private static boolean sameIn(Storage target, String key, byte[] value) throws IOException {
        Optional<byte[]> existing = target.load(key);
        return existing.isPresent() && Arrays.equals(existing.get(), value);
    }

    private synchronized void reportProgress() {
        long now = clock.millis();
        if (now < nextProgressMillis) {
            return;
        }
        nextProgressMillis = now + PROGRESS_EVERY.toMillis();
        int done = copied.get() + unchanged.get() + vanished.get() + failures.size();
        progress.accept("storage copy: " + done + " of " + total + " keys (" + (total == 0 ? 100 : done * 100L / total)
                + "%): " + copied.get() + " copied, " + unchanged.get() + " unchanged, " + failures.size()
                + " failed");
    }
}
