package io.clicktls.testing;

import io.clicktls.storage.Storage;
import java.io.IOException;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * A {@link Storage} that passes every call to another one; a test subclasses it and overrides only the calls it
 * counts, records or makes fail. Thread-safe as far as the delegate is.
 */
public class ForwardingStorage implements Storage {

    private final Storage delegate;

    public ForwardingStorage(Storage delegate) {
        this.delegate = delegate;
    }

    @Override
    public void store(String key, byte[] value) throws IOException {
        delegate.store(key, value);
    }

    @Override
    public Optional<byte[]> load(String key) throws IOException {
        return delegate.load(key);
    }

    @Override
    public boolean delete(String key) throws IOException {
        return delegate.delete(key);
    }

    @Override
    public List<String> list(String prefix) throws IOException {
        return delegate.list(prefix);
    }

    @Override
    public Lock lock(String name, Duration lease) throws IOException, InterruptedException {
        return delegate.lock(name, lease);
    }

    @Override
    public Optional<byte[]> update(String key, Change change) throws IOException {
        return delegate.update(key, change);
    }

    @Override
    public AutoCloseable onChange(Consumer<String> keyListener) throws IOException {
        return delegate.onChange(keyListener);
    }

    @Override
    public Optional<? extends Lease> tryLease(String name, Duration duration) throws IOException {
        return delegate.tryLease(name, duration);
    }

    @Override
    public void writeFenced(Lease lease, Map<String, byte[]> values, Collection<String> deletions) throws IOException {
        delegate.writeFenced(lease, values, deletions);
    }
}
