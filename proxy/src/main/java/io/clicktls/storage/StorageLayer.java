package io.clicktls.storage;

import java.io.IOException;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * A {@link Storage} in front of another (a local copy, measurements): what it does not change about a key's place,
 * the backend's health and its leftovers is the backend's.
 */
abstract class StorageLayer implements Storage {

    /** The storage behind this one. */
    protected final Storage backend;

    /** Writes go to the backend, so whether they can is the backend's to say. */
    @Override
    public Optional<String> unwritable() {
        return backend.unwritable();
    }

    StorageLayer(Storage backend) {
        this.backend = backend;
    }

    /** A layer keeps its values where the backend does. */
    @Override
    public String where(String key) {
        return backend.where(key);
    }

    /**
     * The backend's read-modify-write, which is atomic for every node only there (a transaction, the backend's lock);
     * a layer that keeps values of its own overrides this to keep the result too.
     */
    @Override
    public Optional<byte[]> update(String key, Change change) throws IOException {
        return backend.update(key, change);
    }

    /** Leases are the backend's: only there do they count for every node. */
    @Override
    public Optional<? extends Lease> tryLease(String name, Duration duration) throws IOException {
        return backend.tryLease(name, duration);
    }

    /** The backend checks the lease and writes in one step; a layer that keeps values overrides this to keep them. */
    @Override
    public void writeFenced(Lease lease, Map<String, byte[]> values, Collection<String> deletions) throws IOException {
        backend.writeFenced(lease, values, deletions);
    }

    @Override
    public Optional<LeaseHolder> leaseHolder(String name) throws IOException {
        return backend.leaseHolder(name);
    }

    @Override
    public List<CurrentLease> currentLeases(String prefix, int limit) throws IOException {
        return backend.currentLeases(prefix, limit);
    }

    /** Changes made by other nodes are the backend's to report. */
    @Override
    public AutoCloseable onChange(Consumer<String> keyListener) throws IOException {
        return backend.onChange(keyListener);
    }

    /** The backend's leftovers; a layer that writes files of its own adds its own. */
    @Override
    public int sweepAbandonedWrites() throws IOException {
        return backend.sweepAbandonedWrites();
    }
}
