package io.clicktls.testing;

import io.clicktls.storage.LeaseLostException;
import io.clicktls.storage.NamedLease;
import io.clicktls.storage.Storage;
import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.locks.ReentrantLock;

/** A test stand-in for the file storage: a map, with a count of writes per key. Thread-safe. */
public final class InMemoryStorage implements Storage {

    private final ConcurrentMap<String, byte[]> values = new ConcurrentHashMap<>();
    private final ConcurrentMap<String, Integer> writes = new ConcurrentHashMap<>();
    private final ConcurrentMap<String, ReentrantLock> locks = new ConcurrentHashMap<>();
    /** Leases by name: the current holder's token and until when (System.nanoTime) it holds; guarded by itself. */
    private final Map<String, long[]> leases = new HashMap<>();

    private long lastToken;

    @Override
    public void store(String key, byte[] value) {
        values.put(key, value.clone());
        writes.merge(key, 1, Integer::sum);
    }

    @Override
    public Optional<byte[]> load(String key) {
        return Optional.ofNullable(values.get(key)).map(byte[]::clone);
    }

    @Override
    public boolean delete(String key) {
        return values.remove(key) != null;
    }

    @Override
    public List<String> list(String prefix) {
        return values.keySet().stream().filter(key -> key.startsWith(prefix)).toList();
    }

    @Override
    public Lock lock(String name, Duration lease) throws InterruptedException {
        ReentrantLock lock = locks.computeIfAbsent(name, n -> new ReentrantLock());
        lock.lockInterruptibly();
        return lock::unlock;
    }

    @Override
    public Optional<Lease> tryLease(String name, Duration duration) {
        synchronized (leases) {
            long[] held = leases.get(name);
            long now = System.nanoTime();
            if (held != null && held[0] >= 0 && held[1] - now > 0) {
                return Optional.empty();
            }
            long token = ++lastToken;
            leases.put(name, new long[] {token, now + duration.toNanos()});
            return Optional.of(new MemoryLease(name, token));
        }
    }

    @Override
    public void writeFenced(Lease lease, Map<String, byte[]> values, Collection<String> deletions)
            throws LeaseLostException {
        synchronized (leases) {
            long current = currentToken(lease.name());
            if (current != lease.token()) {
                throw new LeaseLostException(lease.name(), lease.token(), current);
            }
            values.forEach(this::store);
            deletions.forEach(this::delete);
        }
    }

    private long currentToken(String name) {
        long[] held = leases.get(name);
        return held == null ? -1 : held[0];
    }

    private final class MemoryLease extends NamedLease {

        MemoryLease(String name, long token) {
            super(name, token);
        }

        @Override
        public boolean renew(Duration duration) {
            synchronized (leases) {
                boolean current = currentToken(name()) == token();
                if (current) {
                    leases.put(name(), new long[] {token(), System.nanoTime() + duration.toNanos()});
                }
                return current;
            }
        }

        @Override
        public void close() {
            synchronized (leases) {
                if (currentToken(name()) == token()) {
                    leases.put(name(), new long[] {-1, 0});
                }
            }
        }
    }

    /** How often {@code key} was written. */
    public int writes(String key) {
        return writes.getOrDefault(key, 0);
    }
}
