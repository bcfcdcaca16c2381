package io.clicktls.storage;

/**
 * What every backend's {@link Storage.Lease} carries: the lease's name and its fencing token. The backend adds how it
 * is renewed and given back. Immutable here; thread-safe as far as the backend's part is.
 */
public abstract class NamedLease implements Storage.Lease {

    private final String name;
    private final long token;

    protected NamedLease(String name, long token) {
        this.name = name;
        this.token = token;
    }

    @Override
    public final String name() {
        return name;
    }

    @Override
    public final long token() {
        return token;
    }

    @Override
    public String toString() {
        return "lease " + name + " #" + token;
    }
}
