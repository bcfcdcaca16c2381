package io.clicktls.testing;

import io.clicktls.storage.Storage;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.locks.ReentrantLock;

/** A test stand-in for the file storage: a map, with a count of writes per key. Thread-safe. */
public final class InMemoryStorage implements Storage {

    private final ConcurrentMap<String, byte[]> values = new ConcurrentHashMap<>();
    private final ConcurrentMap<String, Integer> writes = new ConcurrentHashMap<>();
    private final ConcurrentMap<String, ReentrantLock> locks = new ConcurrentHashMap<>();

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

    /** How often {@code key} was written. */
    public int writes(String key) {
        return writes.getOrDefault(key, 0);
    }
}
