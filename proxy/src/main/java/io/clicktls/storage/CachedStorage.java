package io.clicktls.storage;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link Storage} over a shared backend (PostgreSQL) that keeps a local copy of what this node read from it or wrote
 * to it, so that a node restarted while the backend is unreachable serves the certificates it served before. The copy
 * is a {@link FileStorage} (files {@code 0600}, folders {@code 0700}, atomic writes) in a folder of the node's own,
 * with the same keys as the backend; values that are private keys ({@link StorageKeys#isPrivateKey}) are
 * {@linkplain Sealing sealed} there as the backend seals them (AES-GCM with {@code storage.postgres.encryption_key_file}
 * when one is set).
 *
 * <p>What is copied: every key but challenges (short-lived, and only right when read from the backend), so
 * certificates and their keys, the internal CA, the ACME account, rate-limit counters, per-name state and whatever a
 * later key adds (a ticket secret). A successful read updates the copy (a value that is gone from the backend is
 * removed from it; a listing removes copied keys under its prefix that the backend no longer has and that were
 * copied before the listing began); a successful write or delete is mirrored after the backend took it. The copy is
 * updated on an executor of its own, in the order of the operations, so that a handshake reading a certificate from
 * the database never waits for the local disk; its writes are atomic but not flushed ({@link FileStorage#withoutSync}):
 * what a crash loses is written again by the next read. That thread may be held to a share of a core
 * ({@link CopyPacing}): a node's first start copies an entry per stored certificate while handshakes need the cores. A
 * copy that cannot be written (a full disk) is logged, never an error of the operation.
 *
 * <p>Values waiting for the copy are held in memory up to {@link #BACKLOG_BYTES}. Beyond that a read leaves only its keys
 * in the queue and the copying thread reads them from the backend again when their turn comes: the index scan of a
 * node's first start reads 100,000 {@code meta.json} in seconds while the paced copy takes minutes, and holding every
 * value read until then kept some 60 MB alive (and copied by the collector) through the start.
 *
 * <p>When the backend is unreachable ({@link StorageUnavailableException}), {@link #load} and {@link #list} answer from
 * the copy (a key the copy does not hold still fails), {@link #lock} falls back to a lock within this process (nothing
 * can be written to the backend anyway), and writes fail as the backend's did ({@link RetryingStorage} keeps them).
 *
 * <p>Blocking: every method does the backend's I/O; call only from the blocking executor. The copy's reads and
 * writes run on the {@code copying} executor (one thread keeps them in order). Thread-safe.
 */
public final class CachedStorage extends StorageLayer {

    /**
     * How a value is kept at rest in the local copy: as the backend keeps it. Both directions apply to private keys
     * only; other values pass unchanged.
     */
    public interface Sealing {
        /** Keeps nothing secret: values as they are. */
        Sealing NONE = new Sealing() {
            @Override
            public byte[] seal(String key, byte[] value) {
                return value;
            }

            @Override
            public byte[] open(String key, byte[] stored) {
                return stored;
            }
        };

        byte[] seal(String key, byte[] value);

        /** @throws IOException when the stored value cannot be read back (sealed with another key, altered) */
        byte[] open(String key, byte[] stored) throws IOException;
    }

    private static final Logger log = LoggerFactory.getLogger(CachedStorage.class);
    /** A failed write of the copy is logged at most this often: a full disk would otherwise log every read. */
    private static final Duration LOG_EVERY = Duration.ofMinutes(1);
    /**
     * How many bytes of values read from the backend may wait for the copy: some 9,000 {@code meta.json}, or 2,000
     * certificates read by handshakes. Beyond it reads queue their keys only (see the class comment), which costs one
     * more read of the backend per batch when the copy gets to them. Values written are always held: they are what
     * this node wrote, and few.
     */
    static final long BACKLOG_BYTES = 4L << 20;

    private final FileStorage copy;
    private final Sealing sealing;
    private final Executor copying;
    private final CopyPacing pacing;
    private final ConcurrentHashMap<String, Semaphore> localLocks = new ConcurrentHashMap<>();
    private final AtomicLong lastCopyFailureLogged = new AtomicLong();
    private final long backlogLimit;
    /** Bytes of values held by queued updates of the copy, read or written. */
    private final AtomicLong backlog = new AtomicLong();

    /**
     * @param copy the node's own folder for the local copy (not shared with another node)
     * @param copying updates the copy: one thread, so that updates land in the order they were made, with a bounded
     *     queue (when it rejects, the caller updates the copy itself); {@code Runnable::run} for the calling thread
     */
    public CachedStorage(Storage backend, FileStorage copy, Sealing sealing, Executor copying) {
        this(backend, copy, sealing, copying, CopyPacing.flatOut());
    }

    /**
     * As {@link #CachedStorage(Storage, FileStorage, Sealing, Executor)}, with the share of a core the copy's updates
     * may take on the {@code copying} thread (an update the caller runs itself because the queue is full is not paced:
     * the caller is waiting for it). The pauses are slept on the thread that runs the executor's tasks, so an executor
     * that runs them on the caller ({@code Runnable::run}) goes with {@link CopyPacing#flatOut}.
     */
    public CachedStorage(Storage backend, FileStorage copy, Sealing sealing, Executor copying, CopyPacing pacing) {
        this(backend, copy, sealing, copying, pacing, BACKLOG_BYTES);
    }

    CachedStorage(
            Storage backend,
            FileStorage copy,
            Sealing sealing,
            Executor copying,
            CopyPacing pacing,
            long backlogLimit) {
        super(backend);
        this.copy = copy;
        this.sealing = sealing;
        this.copying = copying;
        this.pacing = pacing;
        this.backlogLimit = backlogLimit;
    }

    /** Bytes of values waiting in memory for the copying thread. */
    long backlogBytes() {
        return backlog.get();
    }

    /** Whether {@code key} is kept in the local copy: everything but challenges. */
    public static boolean copied(String key) {
        return !key.startsWith(StorageKeys.HTTP_01_CHALLENGES) && !key.startsWith(StorageKeys.TLS_ALPN_01_CHALLENGES);
    }

    /** The folder of the local copy. */
    public Path directory() {
        return copy.root();
    }

    @Override
    public void store(String key, byte[] value) throws IOException {
        backend.store(key, value);
        if (copied(key)) {
            byte[] written = value.clone();
            update(List.of(() -> keep(key, written)), written.length);
        }
    }

    @Override
    public Optional<byte[]> load(String key) throws IOException {
        Optional<byte[]> value;
        try {
            value = backend.load(key);
        } catch (StorageUnavailableException e) {
            Optional<byte[]> kept = copied(key) ? fromCopy(key) : Optional.empty();
            if (kept.isEmpty()) {
                throw e; // not known here: "absent" would be a guess
            }
            return kept;
        }
        followBackend(key, value);
        return value;
    }

    /**
     * The backend's read of several keys at once; while the backend is unreachable each key is answered from the
     * copy as {@link #load} answers it (a key the copy does not hold fails the read).
     */
    @Override
    public Map<String, byte[]> loadAll(List<String> keys) throws IOException {
        Map<String, byte[]> values;
        try {
            values = backend.loadAll(keys);
        } catch (StorageUnavailableException e) {
            Map<String, byte[]> kept = new HashMap<>();
            for (String key : keys) {
                Optional<byte[]> value = copied(key) ? fromCopy(key) : Optional.empty();
                kept.put(key, value.orElseThrow(() -> e));
            }
            return kept;
        }
        List<String> followed = keys.stream().filter(CachedStorage::copied).toList();
        if (!followed.isEmpty()) {
            followRead(followed, values); // one task for the batch: the index scan reads 500 at a time
        }
        return values;
    }

    /**
     * Queues the copy's steps for {@code keys} as the backend just gave them ({@code values}; a key without a value is
     * dropped), in one task, paced key by key. The values are held for the copy while the backlog has room; beyond it
     * only the keys are queued, read again when their turn comes.
     */
    private void followRead(List<String> keys, Map<String, byte[]> values) {
        long bytes = 0;
        for (String key : keys) {
            byte[] value = values.get(key);
            bytes += value == null ? 0 : value.length;
        }
        if (!hold(bytes)) {
            queueAgain(keys, values);
            return;
        }
        List<Runnable> steps = new ArrayList<>();
        for (String key : keys) {
            byte[] value = values.get(key);
            byte[] current = value == null ? null : value.clone(); // the caller keeps its array
            steps.add(() -> follow(key, current));
        }
        queue(steps, bytes);
    }

    /**
     * The copy's step for reads whose values were not held (the backlog was full): the keys read from the backend
     * again, in one read, and followed as the first read would have been. A backend that cannot answer now leaves the
     * copy as it is: the next read of those keys copies them.
     */
    private void followAgain(List<String> keys) {
        AtomicReference<Map<String, byte[]>> read = new AtomicReference<>();
        pacing.run(() -> {
            try {
                read.set(backend.loadAll(keys));
            } catch (IOException | RuntimeException e) {
                copyFailed(
                        "keep " + keys.size() + " keys (" + keys.get(0) + ", ...), read again from the database,", e);
            }
        });
        Map<String, byte[]> values = read.get();
        if (values != null) {
            keys.forEach(key -> pacing.run(() -> follow(key, values.get(key))));
        }
    }

    /**
     * Queues {@link #followAgain} for {@code keys}; on a full queue this thread follows them at once with the values
     * it has in hand.
     */
    private void queueAgain(List<String> keys, Map<String, byte[]> values) {
        try {
            copying.execute(() -> followAgain(keys));
        } catch (RejectedExecutionException e) {
            keys.forEach(key -> follow(key, values.get(key)));
        }
    }

    /** The backend's fenced write; once it has landed, the copy keeps what it wrote and drops what it deleted. */
    @Override
    public void writeFenced(Lease lease, Map<String, byte[]> values, Collection<String> deletions) throws IOException {
        backend.writeFenced(lease, values, deletions);
        for (Map.Entry<String, byte[]> value : values.entrySet()) {
            if (copied(value.getKey())) {
                String key = value.getKey();
                byte[] written = value.getValue().clone();
                update(List.of(() -> keep(key, written)), written.length);
            }
        }
        for (String key : deletions) {
            if (copied(key)) {
                update(() -> drop(key));
            }
        }
    }

    /** The backend's atomic update; its result is kept in the copy like any value read or written. */
    @Override
    public Optional<byte[]> update(String key, Change change) throws IOException {
        Optional<byte[]> value = backend.update(key, change);
        followBackend(key, value);
        return value;
    }

    @Override
    public boolean delete(String key) throws IOException {
        boolean deleted = backend.delete(key);
        if (copied(key)) {
            update(() -> drop(key));
        }
        return deleted;
    }

    @Override
    public List<String> list(String prefix) throws IOException {
        Instant started = Instant.now();
        List<String> keys;
        try {
            keys = backend.list(prefix);
        } catch (StorageUnavailableException e) {
            if (!copied(prefix)) {
                throw e;
            }
            return copy.list(prefix);
        }
        if (copied(prefix)) {
            List<String> listed = List.copyOf(keys);
            update(() -> dropMissing(prefix, listed, started));
        }
        return keys;
    }

    /**
     * The backend's lock; while the backend is unreachable, a lock within this process, with a warning: it keeps this
     * node's threads apart, and other nodes cannot write to the unreachable backend either.
     */
    @Override
    public Lock lock(String name, Duration lease) throws IOException, InterruptedException {
        try {
            return backend.lock(name, lease);
        } catch (StorageUnavailableException e) {
            log.warn(
                    "cannot take the lock {} in the storage ({}); holding it within this node only",
                    name,
                    e.getMessage());
            Semaphore local = localLocks.computeIfAbsent(name, ignored -> new Semaphore(1));
            local.acquire();
            AtomicBoolean held = new AtomicBoolean(true);
            return () -> {
                if (held.compareAndSet(true, false)) {
                    local.release();
                }
            };
        }
    }

    /** The backend's leftovers and the copy's (temporary files of writes a crash interrupted). */
    @Override
    public int sweepAbandonedWrites() throws IOException {
        return super.sweepAbandonedWrites() + copy.sweepAbandonedWrites();
    }

    private void update(Runnable change) {
        update(List.of(change), 0);
    }

    /** Queues {@code steps}, which hold {@code bytes} of values, however large the backlog: values written. */
    private void update(List<Runnable> steps, long bytes) {
        backlog.addAndGet(bytes);
        queue(steps, bytes);
    }

    /** Counts {@code bytes} of values read into the backlog if they fit under its limit; false when they do not. */
    private boolean hold(long bytes) {
        long held;
        do {
            held = backlog.get();
            if (bytes > 0 && held + bytes > backlogLimit) {
                return false;
            }
        } while (!backlog.compareAndSet(held, held + bytes));
        return true;
    }

    /**
     * Runs {@code steps} in order on the copying thread, each paced, in one task; the {@code bytes} they hold (already
     * counted in the backlog) leave it when the task has run.
     */
    private void queue(List<Runnable> steps, long bytes) {
        Runnable task = () -> {
            try {
                steps.forEach(pacing::run);
            } finally {
                backlog.addAndGet(-bytes);
            }
        };
        try {
            copying.execute(task);
        } catch (RejectedExecutionException e) {
            // a full queue: this thread's turn to wait for the disk
            try {
                steps.forEach(Runnable::run);
            } finally {
                backlog.addAndGet(-bytes);
            }
        }
    }

    private Optional<byte[]> fromCopy(String key) throws IOException {
        Optional<byte[]> stored = copy.load(key);
        return stored.isEmpty() ? stored : Optional.of(sealing.open(key, stored.get()));
    }

    /**
     * Has the copy follow what the backend just gave for {@code key}, if the copy holds such keys: a copy of the
     * value (the caller keeps its array) is kept, or the key dropped where the backend has none.
     */
    private void followBackend(String key, Optional<byte[]> value) {
        if (copied(key)) {
            followRead(List.of(key), value.isEmpty() ? Map.of() : Map.of(key, value.get()));
        }
    }

    /** The copy's step of {@link #followRead}: {@code value} kept if changed, or the key dropped when null. */
    private void follow(String key, byte[] value) {
        if (value == null) {
            drop(key);
        } else {
            keepIfChanged(key, value);
        }
    }

    /** Writes the copy unless it already holds {@code value}: most reads find what they found before. */
    private void keepIfChanged(String key, byte[] value) {
        try {
            Optional<byte[]> kept = fromCopy(key);
            if (kept.isPresent() && Arrays.equals(kept.get(), value)) {
                return;
            }
        } catch (IOException | RuntimeException e) {
            // unreadable (another key, altered): written anew below
        }
        keep(key, value);
    }

    private void keep(String key, byte[] value) {
        try {
            copy.store(key, sealing.seal(key, value));
        } catch (IOException | RuntimeException e) {
            copyFailed("write " + key, e);
        }
    }

    private void drop(String key) {
        try {
            copy.delete(key);
        } catch (IOException | RuntimeException e) {
            copyFailed("delete " + key, e);
        }
    }

    /**
     * Removes copied keys under {@code prefix} that the backend's listing does not have: deleted by another node.
     * Keys copied since the listing began are kept (the listing may predate their write).
     */
    private void dropMissing(String prefix, List<String> listed, Instant started) {
        try {
            Set<String> present = new HashSet<>(listed);
            for (String key : copy.list(prefix)) {
                if (!present.contains(key) && copiedBefore(key, started)) {
                    copy.delete(key);
                }
            }
        } catch (IOException | RuntimeException e) {
            copyFailed("prune " + prefix, e);
        }
    }

    private boolean copiedBefore(String key, Instant instant) throws IOException {
        try {
            return Files.getLastModifiedTime(copy.path(key)).toInstant().isBefore(instant);
        } catch (NoSuchFileException e) {
            return false;
        }
    }

    private void copyFailed(String what, Exception e) {
        long now = System.nanoTime();
        long last = lastCopyFailureLogged.get();
        if ((last == 0 || now - last >= LOG_EVERY.toNanos()) && lastCopyFailureLogged.compareAndSet(last, now)) {
            log.warn(
                    "cannot {} in the local copy of the storage at {} (a node restarted while the database is down"
                            + " may miss it): {}",
                    what,
                    copy.root(),
                    e.toString());
        }
    }
}
