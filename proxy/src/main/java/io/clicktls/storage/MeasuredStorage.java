package io.clicktls.storage;

import java.io.IOException;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * {@link Storage} that reports how long each operation on its backend took and whether it failed, for the metrics
 * {@code clicktls_storage_operation_seconds{backend,operation}} and {@code clicktls_storage_errors_total}. Wraps the
 * backend itself (not a cache or the retries in front of it), so the figures are the database's or the disk's.
 *
 * <p>Blocking like its backend; the {@link Recorder} is called on the calling thread and must be cheap. Thread-safe as
 * far as the backend is.
 */
public final class MeasuredStorage extends StorageLayer {

    /** The {@code operation} label values, all known ahead. */
    public static final List<String> OPERATIONS = List.of("load", "store", "delete", "list", "update", "lease");

    /** Where the measurements go (the metrics); called once per operation. */
    @FunctionalInterface
    public interface Recorder {
        /**
         * @param operation one of {@link #OPERATIONS}
         * @param failed whether it ended with an exception
         */
        void record(String operation, long nanos, boolean failed);
    }

    /** One call to the backend; {@code E} is what else than an {@link IOException} it may throw. */
    @FunctionalInterface
    private interface Call<T, E extends Exception> {
        T run() throws IOException, E;
    }

    private final Recorder recorder;

    public MeasuredStorage(Storage backend, Recorder recorder) {
        super(backend);
        this.recorder = recorder;
    }

    @Override
    public void store(String key, byte[] value) throws IOException {
        measured("store", () -> {
            backend.store(key, value);
            return null;
        });
    }

    @Override
    public Optional<byte[]> load(String key) throws IOException {
        return measured("load", () -> backend.load(key));
    }

    /** Measured as one load: one read of the backend. */
    @Override
    public Map<String, byte[]> loadAll(List<String> keys) throws IOException {
        return measured("load", () -> backend.loadAll(keys));
    }

    @Override
    public boolean delete(String key) throws IOException {
        return measured("delete", () -> backend.delete(key));
    }

    @Override
    public List<String> list(String prefix) throws IOException {
        return measured("list", () -> backend.list(prefix));
    }

    /** A listing of leases is measured as a list: one bounded read of many rows. */
    @Override
    public List<CurrentLease> currentLeases(String prefix, int limit) throws IOException {
        return measured("list", () -> backend.currentLeases(prefix, limit));
    }

    @Override
    public Optional<? extends Lease> tryLease(String name, Duration duration) throws IOException {
        return measured("lease", () -> backend.tryLease(name, duration));
    }

    /** A fenced write is measured as a store: one write of the entry's files. */
    @Override
    public void writeFenced(Lease lease, Map<String, byte[]> values, Collection<String> deletions) throws IOException {
        measured("store", () -> {
            backend.writeFenced(lease, values, deletions);
            return null;
        });
    }

    @Override
    public Optional<byte[]> update(String key, Change change) throws IOException {
        return measured("update", () -> backend.update(key, change));
    }

    @Override
    public Lock lock(String name, Duration lease) throws IOException, InterruptedException {
        return this.<Lock, InterruptedException>measured("lease", () -> backend.lock(name, lease));
    }

    private <T, E extends Exception> T measured(String operation, Call<T, E> call) throws IOException, E {
        long start = System.nanoTime();
        boolean failed = true;
        try {
            T result = call.run();
            failed = false;
            return result;
        } finally {
            recorder.record(operation, System.nanoTime() - start, failed);
        }
    }
}
