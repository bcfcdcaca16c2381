package io.clicktls.config;

import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * The config in force. Readers call {@link #get()} per request or handshake and use that one snapshot for the
 * whole of it; a reload replaces the snapshot atomically. Thread-safe.
 */
public final class LiveConfig implements Supplier<ConfigSnapshot> {

    private volatile ConfigSnapshot current;
    private volatile Predicate<String> allowedOnDemand = name -> false;
    private final List<Consumer<ConfigSnapshot>> listeners = new CopyOnWriteArrayList<>();

    public LiveConfig(ClickTlsConfig initial) {
        this.current = ConfigSnapshot.of(initial);
    }

    @Override
    public ConfigSnapshot get() {
        return current;
    }

    /**
     * Which names outside {@code domains} are routed to {@code certificates.on_demand.platform}: see
     * {@link DomainTable#withOnDemand}. Set once while wiring the node, before it serves; applies to the current
     * snapshot and every later one.
     */
    public synchronized void routeOnDemand(Predicate<String> allowed) {
        allowedOnDemand = Objects.requireNonNull(allowed);
        // the same table with the predicate: 100,000 entries are not hashed again
        current = new ConfigSnapshot(current.config(), current.domains().withOnDemand(allowed));
    }

    /** Swaps in a new config and tells the listeners, on the calling thread. */
    public void replace(ClickTlsConfig next) {
        ConfigSnapshot snapshot;
        synchronized (this) {
            snapshot = ConfigSnapshot.of(Objects.requireNonNull(next), allowedOnDemand);
            current = snapshot;
        }
        for (Consumer<ConfigSnapshot> listener : listeners) {
            listener.accept(snapshot);
        }
    }

    /** Called after every successful swap, on the thread that swapped; must not block for long. */
    public void onChange(Consumer<ConfigSnapshot> listener) {
        listeners.add(listener);
    }
}
