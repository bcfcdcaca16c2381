package io.clicktls.storage;

import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * Key-value storage for certificates, keys, the ACME account, challenge tokens and per-name state. Keys are
 * slash-separated relative paths such as {@code certificates/links.shop.com/chain.pem}. The file system is the
 * default; a cluster backend (PostgreSQL) fits behind the same interface.
 *
 * <p>Blocking: call only from the blocking executor, never from an event loop.
 */
public interface Storage {

    /**
     * Writes atomically: readers see the old value or the new one, never a part. Values are owner-only. A
     * {@link RetryingStorage} may instead keep a write it cannot make now in memory and make it later.
     */
    void store(String key, byte[] value) throws IOException;

    Optional<byte[]> load(String key) throws IOException;

    /** @return whether something was deleted */
    boolean delete(String key) throws IOException;

    /** Keys that start with {@code prefix}, in no particular order. */
    List<String> list(String prefix) throws IOException;

    /**
     * Takes a named lock that expires after {@code lease} unless released, so that a crashed holder cannot block
     * others for ever. Waits until the lock is free.
     */
    Lock lock(String name, Duration lease) throws IOException, InterruptedException;

    /**
     * Where the value of {@code key} (or the keys under a prefix ending in {@code /}) is kept, for a person reading a message ("trust /var/lib/clicktls/ca/root.pem"): a
     * file's path, a table's row. Not for parsing. Memory only; any thread.
     */
    default String where(String key) {
        return key;
    }

    /**
     * Why the backend cannot take writes now (a read-only or full disk, a database in recovery), by its own account;
     * empty when it can, or when it cannot tell. Blocking, like every other method.
     */
    default Optional<String> unwritable() {
        return Optional.empty();
    }

    /**
     * Removes what writes interrupted by an earlier crash left behind (temporary files, say); a backend whose writes
     * are transactions has nothing to do.
     *
     * @return how many leftovers were removed
     */
    default int sweepAbandonedWrites() throws IOException {
        return 0;
    }

    /** A held lock; closing releases it. */
    interface Lock extends AutoCloseable {
        @Override
        void close() throws IOException;
    }
}
