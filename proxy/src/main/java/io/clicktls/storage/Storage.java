package io.clicktls.storage;

import java.io.IOException;
import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;

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

    /**
     * The values of several keys, as {@link #load} gives each: a key that is absent is missing from the map. A
     * backend across a network reads them in one round trip (PostgreSQL: one query), so that a handshake waiting for
     * a stored certificate (chain, key and {@code meta.json}) waits for one read, not three. This default loads them
     * one by one.
     */
    default Map<String, byte[]> loadAll(List<String> keys) throws IOException {
        Map<String, byte[]> values = new HashMap<>();
        for (String key : keys) {
            Optional<byte[]> value = load(key);
            if (value.isPresent()) {
                values.put(key, value.get());
            }
        }
        return values;
    }

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
     * Takes the named lease if nobody holds it or its holder's lease has run out, without waiting: the cluster-wide
     * claim on one piece of work (one order per name). Each lease taken gets a fencing token larger than every token
     * given for that name before, so that a holder paused past its lease cannot write over a newer holder's result:
     * see {@link #writeFenced}. A backend returns its own lease type.
     *
     * @return the lease, or empty when another holder has it
     */
    Optional<? extends Lease> tryLease(String name, Duration duration) throws IOException;

    /**
     * Stores {@code values} and deletes {@code deletions} only while {@code lease} is still the current holder of its
     * name (its token is the newest), else writes nothing. A backend with transactions writes all or nothing; the
     * file system writes them in order (so a reader such as {@link CertificateStore} puts the file that makes an
     * entry whole last).
     *
     * @throws LeaseLostException when another holder has taken the lease over (nothing is written)
     */
    void writeFenced(Lease lease, Map<String, byte[]> values, Collection<String> deletions) throws IOException;

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

    /**
     * Reads the value under {@code key}, hands it to {@code change} and stores what that returns, as one step for
     * every node sharing this storage: no other {@code update} of the same key runs in between, so a counter shared
     * by a cluster can be checked and spent without two nodes spending its last unit. {@code change} returns the new
     * value, or {@code null} to leave the stored one as it is; it may run more than once and must not block.
     *
     * <p>This default serialises updates with {@link #lock} (a lock file for the file system); a backend with
     * transactions does it in one.
     *
     * @return the value stored under {@code key} afterwards
     */
    default Optional<byte[]> update(String key, Change change) throws IOException {
        try (Lock held = lock(UPDATE_LOCK_PREFIX + key, UPDATE_LOCK_LEASE)) {
            Optional<byte[]> current = load(key);
            byte[] next = change.apply(current);
            if (next == null) {
                return current;
            }
            store(key, next);
            return Optional.of(next);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted while waiting to update " + key);
        }
    }

    /** The lock that {@link #update}'s default takes for {@code key}: this prefix and the key. */
    String UPDATE_LOCK_PREFIX = "update/";

    /** Long enough for a read and a write; short enough that a crashed holder is not waited for long. */
    Duration UPDATE_LOCK_LEASE = Duration.ofSeconds(10);

    /** What {@link #update} does to a value: the new one from the current one (empty: none), or {@code null}. */
    @FunctionalInterface
    interface Change {
        byte[] apply(Optional<byte[]> current);
    }

    /**
     * Calls {@code keyListener} with the key of every value stored or deleted from now on by any node sharing this
     * storage, this one included, at least once (a backend may repeat a key). A backend that no other node shares,
     * or that cannot tell, reports nothing: this default. Never a value. The listener runs on the backend's own
     * thread and must not block (hand work to the blocking executor).
     *
     * @return closing it stops the calls to this listener
     */
    default AutoCloseable onChange(Consumer<String> keyListener) throws IOException {
        return () -> {};
    }

    /**
     * Who holds the lease {@code name} now and until when, by the backend's account, for operators (the status page):
     * empty when nobody does, or when the backend does not say. Never for deciding anything.
     */
    default Optional<LeaseHolder> leaseHolder(String name) throws IOException {
        return Optional.empty();
    }

    /**
     * The current leases (not run out, by the backend's clock) whose names start with {@code prefix}, ordered by name,
     * at most {@code limit} of them: for operators (the status page lists the orders in flight on every node, one read
     * however many names a page shows). Empty when the backend does not say. Never for deciding anything.
     */
    default List<CurrentLease> currentLeases(String prefix, int limit) throws IOException {
        return List.of();
    }

    /** One entry of {@link #currentLeases}: a lease's name and who holds it until when. */
    record CurrentLease(String name, LeaseHolder holder) {}

    /**
     * A current lease as the backend records it.
     *
     * @param holder the holder's name ({@code node.name} for a node)
     * @param since when it was taken ({@code null} when the backend did not record it); {@code until}: when it runs
     *     out unless renewed (the backend's clock)
     */
    record LeaseHolder(String holder, java.time.Instant since, java.time.Instant until) {}

    /** A held lock; closing releases it. */
    interface Lock extends AutoCloseable {
        @Override
        void close() throws IOException;
    }

    /**
     * A lease from {@link #tryLease}: the name, its fencing token, and a way to extend it. Renew it well before it
     * runs out; a renewal that fails means the lease is lost and the work under it must be abandoned. Closing it
     * releases the lease if it is still this holder's (another holder's is left alone). Blocking, like the storage.
     */
    interface Lease extends Lock {
        String name();

        /** Larger than every token given for this name before. */
        long token();

        /**
         * Extends the lease to {@code duration} from now, if it is still this holder's.
         *
         * @return false when another holder has taken it over (or it was released): stop the work under it
         */
        boolean renew(Duration duration) throws IOException;
    }
}
