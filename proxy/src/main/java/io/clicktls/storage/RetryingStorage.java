package io.clicktls.storage;

import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link Storage} that keeps a node serving when its backend cannot take writes (a full or read-only disk, a quota):
 * a write or delete the backend refuses is kept in memory, where {@link #load} and {@link #list} see it at once, and
 * is tried again with backoff until it lands. While anything waits, later writes queue behind it instead of going to
 * the backend, so that they land in the order they were made (a certificate's {@code meta.json} still lands after its
 * chain and key, which is what makes a crash between them harmless). A store that was kept returns normally: callers
 * serve what they wrote; whether it reached the backend is this class's to tell ({@link #degraded},
 * {@link #notPersisted}, the {@code notPersisted} callback), not each caller's.
 *
 * <p>What waits is bounded ({@link #MAX_PENDING_BYTES}); past it a store fails as the backend's did. What still waits
 * when the node stops is lost, and logged by key: it was never on disk.
 *
 * <p>Threading: {@link #store}, {@link #load}, {@link #delete}, {@link #list} and {@link #lock} do the backend's I/O
 * and run on the blocking executor, as for any {@link Storage}. Retries run on {@code blocking}, scheduled on
 * {@code timer}. {@link #degraded}, {@link #notPersisted} and {@link #pending} read memory only (a short lock never
 * held during I/O) and may run on an event loop. Thread-safe.
 */
public final class RetryingStorage extends StorageLayer implements AutoCloseable {

    /** The {@code kind} of a key: the label values of the storage metrics, all known ahead. */
    public static final List<String> KINDS = StorageKeys.KINDS;

    /** The first retry after a refused write, doubled per failed retry up to {@link #MAX_RETRY}. */
    static final Duration FIRST_RETRY = Duration.ofMillis(500);
    /**
     * Retries stay this frequent however long the disk stays full: a failed attempt costs one small file created and
     * removed, and an operator who frees space expects the node to be back to "ok" within seconds.
     */
    static final Duration MAX_RETRY = Duration.ofSeconds(5);
    /** At most this many bytes wait in memory: about 20,000 certificates with their keys. */
    public static final long MAX_PENDING_BYTES = 64L << 20;

    private static final Logger log = LoggerFactory.getLogger(RetryingStorage.class);
    /** While the backend stays unwritable, a failed retry is logged at most this often. */
    private static final Duration LOG_EVERY = Duration.ofMinutes(1);

    /** A write waiting for the backend; {@code value == null} is a delete. */
    private record Pending(byte[] value, String kind, String reason) {
        long size() {
            return value == null ? 0 : value.length;
        }
    }

    private final ScheduledExecutorService timer;
    private final Executor blocking;
    private final Clock clock;
    private final Consumer<String> notPersistedCounter;
    private final long maxPendingBytes;

    // guarded by this
    private final LinkedHashMap<String, Pending> pending = new LinkedHashMap<>();
    private long pendingBytes;
    private String lastError;
    private Instant since;
    private int failedRetries;
    private boolean retryScheduled;
    private Instant lastLogged = Instant.EPOCH;
    private boolean closed;
    /** The backend's own account of why it cannot take writes (see {@link #watch}), or {@code null}. */
    private volatile String unwritable;

    private volatile Supplier<Optional<String>> probe = Optional::empty;

    /**
     * @param timer schedules retries (they run on {@code blocking})
     * @param notPersisted called with the kind of every write that could not be persisted when made (a metric)
     */
    public RetryingStorage(
            Storage backend,
            ScheduledExecutorService timer,
            Executor blocking,
            Clock clock,
            Consumer<String> notPersisted) {
        this(backend, timer, blocking, clock, notPersisted, MAX_PENDING_BYTES);
    }

    /** For tests: a bound of their own on what waits in memory. */
    RetryingStorage(
            Storage backend,
            ScheduledExecutorService timer,
            Executor blocking,
            Clock clock,
            Consumer<String> notPersisted,
            long maxPendingBytes) {
        super(backend);
        this.maxPendingBytes = maxPendingBytes;
        this.timer = timer;
        this.blocking = blocking;
        this.clock = clock;
        this.notPersistedCounter = notPersisted;
    }

    public Storage backend() {
        return backend;
    }

    /**
     * Empty: this layer takes every write, keeping in memory what the backend refuses ({@link #writable()} and the
     * pending counts say what waits). Not the backend's probe, which blocks.
     */
    @Override
    public Optional<String> unwritable() {
        return Optional.empty();
    }

    @Override
    public String where(String key) {
        return backend.where(key);
    }

    /**
     * Asks {@code probe} now and then every {@code every} (on the blocking executor), and after writes that waited
     * have landed, whether the backend can take writes; {@link #degraded} reports it while nothing waits yet, so that
     * a node started on a full or read-only disk says so before it loses anything. Runs the first probe on the
     * calling thread: not an event loop.
     *
     * @param probe e.g. {@link Storage#unwritable}; blocking, cheap
     */
    public void watch(Supplier<Optional<String>> probe, Duration every) {
        this.probe = probe;
        probeNow();
        try {
            timer.scheduleWithFixedDelay(
                    () -> {
                        try {
                            blocking.execute(this::probeNow);
                        } catch (RejectedExecutionException e) {
                            log.debug("storage probe skipped: the blocking executor is full");
                        }
                    },
                    every.toMillis(),
                    every.toMillis(),
                    TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            log.debug("storage probe not scheduled: stopping");
        }
    }

    private void probeNow() {
        try {
            String now = probe.get().orElse(null);
            String before = unwritable;
            unwritable = now;
            if (now != null && !now.equals(before)) {
                log.warn("{}: what the node writes next is kept in memory only until it takes writes", now);
            } else if (now == null && before != null) {
                log.info("storage is writable again (it was: {})", before);
            }
        } catch (RuntimeException e) {
            log.warn("cannot check whether the storage takes writes: {}", e.toString());
        }
    }

    /** Whether nothing waits and the backend takes writes by its own account. Memory only. */
    public boolean writable() {
        return degraded().isEmpty();
    }

    @Override
    public void store(String key, byte[] value) throws IOException {
        byte[] copy = value.clone();
        synchronized (this) {
            if (!pending.isEmpty()) {
                keep(key, copy, lastError, false);
                return;
            }
        }
        try {
            backend.store(key, copy);
        } catch (IOException e) {
            synchronized (this) {
                keep(key, copy, FileStorage.reason(e), true);
            }
        }
    }

    @Override
    public Optional<byte[]> load(String key) throws IOException {
        synchronized (this) {
            Pending waiting = pending.get(key);
            if (waiting != null) {
                return waiting.value() == null
                        ? Optional.empty()
                        : Optional.of(waiting.value().clone());
            }
        }
        return backend.load(key);
    }

    /** Keys with a write waiting are answered from memory, the others in one read of the backend. */
    @Override
    public Map<String, byte[]> loadAll(List<String> keys) throws IOException {
        Map<String, byte[]> values = new HashMap<>();
        List<String> stored = new ArrayList<>(keys.size());
        synchronized (this) {
            for (String key : keys) {
                Pending waiting = pending.get(key);
                if (waiting == null) {
                    stored.add(key);
                } else if (waiting.value() != null) {
                    values.put(key, waiting.value().clone());
                }
            }
        }
        if (!stored.isEmpty()) {
            values.putAll(backend.loadAll(stored));
        }
        return values;
    }

    @Override
    public boolean delete(String key) throws IOException {
        Pending waiting;
        boolean queued;
        synchronized (this) {
            queued = !pending.isEmpty();
            waiting = pending.get(key);
        }
        if (queued) {
            boolean existed = waiting != null
                    ? waiting.value() != null
                    : backend.load(key).isPresent();
            synchronized (this) {
                keep(key, null, lastError, false);
            }
            return existed;
        }
        try {
            return backend.delete(key);
        } catch (IOException e) {
            synchronized (this) {
                keep(key, null, FileStorage.reason(e), true);
            }
            return true;
        }
    }

    @Override
    public List<String> list(String prefix) throws IOException {
        Set<String> keys = new LinkedHashSet<>(backend.list(prefix));
        synchronized (this) {
            pending.forEach((key, waiting) -> {
                if (key.startsWith(prefix)) {
                    if (waiting.value() == null) {
                        keys.remove(key);
                    } else {
                        keys.add(key);
                    }
                }
            });
        }
        return new ArrayList<>(keys);
    }

    @Override
    public Lock lock(String name, Duration lease) throws IOException, InterruptedException {
        return backend.lock(name, lease);
    }

    /**
     * {@inheritDoc} Never kept in memory: a fenced write lands now or fails (a later retry could no longer be fenced).
     * Once it landed, writes of the same keys still waiting are dropped, so that a retry cannot put an older value back.
     */
    @Override
    public void writeFenced(Lease lease, Map<String, byte[]> values, Collection<String> deletions) throws IOException {
        Set<String> written = new LinkedHashSet<>(values.keySet());
        written.addAll(deletions);
        backend.writeFenced(lease, values, deletions);
        synchronized (this) {
            pending.keySet().removeAll(written);
        }
    }

    /**
     * Why {@code key} is not persisted yet (e.g. {@code No space left on device}); empty when it is, or was never
     * written by this node. Memory only.
     */
    public synchronized Optional<String> notPersisted(String key) {
        Pending waiting = pending.get(key);
        return waiting == null ? Optional.empty() : Optional.of(waiting.reason());
    }

    /** How many writes wait for the backend, of one {@link #KINDS kind}. Memory only. */
    public synchronized int pending(String kind) {
        int count = 0;
        for (Pending waiting : pending.values()) {
            if (waiting.kind().equals(kind)) {
                count++;
            }
        }
        return count;
    }

    /**
     * A line for {@code /healthz} and the status page while writes wait, e.g. {@code storage not writable: 3 items not
     * persisted (certificate 3) since 2026-12-07T13:00:00Z: No space left on device}; empty while all is persisted.
     * Memory only.
     */
    public synchronized Optional<String> degraded() {
        if (pending.isEmpty()) {
            String reason = unwritable;
            return reason == null
                    ? Optional.empty()
                    : Optional.of(reason + " (nothing waits to be written yet; new certificates and rate-limit"
                            + " counters would be kept in memory only)");
        }
        Map<String, Integer> byKind = new TreeMap<>();
        pending.values().forEach(waiting -> byKind.merge(waiting.kind(), 1, Integer::sum));
        StringBuilder kinds = new StringBuilder();
        byKind.forEach((kind, count) -> kinds.append(kinds.length() == 0 ? "" : ", ")
                .append(kind)
                .append(' ')
                .append(count));
        return Optional.of("storage not writable: " + pending.size() + (pending.size() == 1 ? " item" : " items")
                + " not persisted (" + kinds + ") since " + since + ": " + lastError);
    }

    /**
     * Keeps a write that cannot go to the backend now; the lock is held.
     *
     * @param afterFailure whether the backend just refused it; a newer write of the key queued meanwhile then wins
     */
    private void keep(String key, byte[] value, String reason, boolean afterFailure) throws IOException {
        Pending old = pending.get(key);
        if (afterFailure && old != null) {
            return;
        }
        Pending next = new Pending(value, StorageKeys.kind(key), reason);
        long oldSize = old == null ? 0 : old.size();
        if (pendingBytes - oldSize + next.size() > maxPendingBytes) {
            throw new IOException("storage not writable (" + reason + ") and " + pendingBytes
                    + " bytes of writes already wait in memory: " + key + " is not kept");
        }
        if (old != null) {
            pending.remove(key); // to the end: written after what was queued before it
        }
        pending.put(key, next);
        pendingBytes += next.size() - oldSize;
        lastError = reason;
        notPersistedCounter.accept(next.kind());
        if (since == null) {
            since = clock.instant();
            lastLogged = since;
            log.warn(
                    "storage not writable ({}): keeping {} and later writes in memory, served from there, and writing"
                            + " them when the storage takes writes again",
                    reason,
                    key);
        }
        scheduleRetry();
    }

    /** The lock is held. */
    private void scheduleRetry() {
        if (retryScheduled || closed) {
            return;
        }
        retryScheduled = true;
        long delay = FIRST_RETRY.toMillis() << Math.min(failedRetries, 10);
        delay = Math.min(delay, MAX_RETRY.toMillis());
        try {
            timer.schedule(
                    () -> {
                        try {
                            blocking.execute(this::retry);
                        } catch (RejectedExecutionException e) {
                            retryLater("the blocking executor is full");
                        }
                    },
                    delay,
                    TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            retryScheduled = false; // stopping; close() makes the last attempt
        }
    }

    private synchronized void retryLater(String reason) {
        log.debug("storage retry postponed: {}", reason);
        retryScheduled = false;
        failedRetries++;
        scheduleRetry();
    }

    /** Writes what waits, oldest first, until the backend refuses one or nothing is left. Blocking. */
    void retry() {
        int written = 0;
        boolean probeAfterRetry = false;
        while (true) {
            String key;
            Pending next;
            synchronized (this) {
                if (pending.isEmpty()) {
                    retryScheduled = false;
                    if (since != null) {
                        log.info(
                                "storage takes writes again: wrote {} kept in memory since {}",
                                written == 1 ? "1 item" : written + " items",
                                since);
                    }
                    since = null;
                    lastError = null;
                    failedRetries = 0;
                    probeAfterRetry = written > 0;
                    break;
                }
                Map.Entry<String, Pending> first = pending.entrySet().iterator().next();
                key = first.getKey();
                next = first.getValue();
            }
            try {
                if (next.value() == null) {
                    backend.delete(key);
                } else {
                    backend.store(key, next.value());
                }
                written++;
            } catch (IOException e) {
                failedRetry(key, e);
                return;
            } catch (RuntimeException e) {
                // Not the disk: a key this backend cannot hold. Retrying cannot help; do not let it block the rest.
                log.error("dropping the write of {}, which the storage can never take", key, e);
            }
            synchronized (this) {
                if (pending.get(key) == next) {
                    pending.remove(key);
                    pendingBytes -= next.size();
                }
            }
        }
        if (probeAfterRetry) {
            probeNow(); // the writes landed: the disk's own account has likely changed too
        }
    }

    private synchronized void failedRetry(String key, IOException e) {
        lastError = FileStorage.reason(e);
        failedRetries++;
        retryScheduled = false;
        Instant now = clock.instant();
        if (!now.isBefore(lastLogged.plus(LOG_EVERY))) {
            lastLogged = now;
            log.warn(
                    "storage still not writable ({}): {} writes wait in memory since {}, first {}",
                    lastError,
                    pending.size(),
                    since,
                    key);
        }
        scheduleRetry();
    }

    /** Makes a last attempt to write what waits, on the calling thread, and logs what is lost. Idempotent. */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            if (pending.isEmpty()) {
                return;
            }
        }
        retry();
        synchronized (this) {
            if (!pending.isEmpty()) {
                log.error(
                        "stopping with {} writes never persisted ({}): {}",
                        pending.size(),
                        lastError,
                        String.join(", ", pending.keySet()));
            }
        }
    }
}
