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

    /** A held lock; closing releases it. */
    interface Lock extends AutoCloseable {
        @Override
        void close() throws IOException;
    }
}
