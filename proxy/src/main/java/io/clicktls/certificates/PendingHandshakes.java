package io.clicktls.certificates;

import io.clicktls.config.OnDemand;
import java.net.InetAddress;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Counts the TLS handshakes that wait for a certificate not in memory (storage, the {@code ask} endpoint, DNS,
 * issuance), per client address and in all, so that a flood of unknown names from a few addresses cannot take every
 * slot: beyond {@code on_demand.pending_handshakes} a handshake is refused at once
 * ({@link Refusal#TOO_MANY_PENDING}) instead of queueing. Handshakes for certificates in memory never count.
 *
 * <p>Thread-safe and lock-free; {@link #tryAcquire} and {@link Permit#close} may run on event loops. Memory: one map
 * entry per client address with a handshake pending, removed when its count drops to zero.
 */
public final class PendingHandshakes {

    private final ConcurrentMap<InetAddress, AtomicInteger> perClient = new ConcurrentHashMap<>();
    private final AtomicInteger total = new AtomicInteger();

    /** A pending handshake's slot; closing it (once or more) frees the slot. */
    public final class Permit implements AutoCloseable {
        private final InetAddress client;
        private final AtomicBoolean closed = new AtomicBoolean();

        private Permit(InetAddress client) {
            this.client = client;
        }

        @Override
        public void close() {
            if (closed.compareAndSet(false, true)) {
                release(client);
            }
        }
    }

    /**
     * A slot for a handshake from {@code client}, or empty when the client or the node already has as many pending
     * as {@code limits} allow.
     */
    public Optional<Permit> tryAcquire(InetAddress client, OnDemand.PendingHandshakes limits) {
        if (total.incrementAndGet() > limits.total()) {
            total.decrementAndGet();
            return Optional.empty();
        }
        boolean[] admitted = {false};
        perClient.compute(client, (address, count) -> {
            AtomicInteger current = count == null ? new AtomicInteger() : count;
            if (current.get() < limits.perClient()) {
                current.incrementAndGet();
                admitted[0] = true;
            }
            return current.get() == 0 ? null : current;
        });
        if (!admitted[0]) {
            total.decrementAndGet();
            return Optional.empty();
        }
        return Optional.of(new Permit(client));
    }

    /** Handshakes pending now, in all. */
    public int total() {
        return total.get();
    }

    /** Handshakes pending now from {@code client}. */
    public int of(InetAddress client) {
        AtomicInteger count = perClient.get(client);
        return count == null ? 0 : count.get();
    }

    private void release(InetAddress client) {
        perClient.computeIfPresent(client, (address, count) -> count.decrementAndGet() <= 0 ? null : count);
        total.decrementAndGet();
    }
}
