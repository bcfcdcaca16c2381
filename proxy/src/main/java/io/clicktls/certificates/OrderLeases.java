package io.clicktls.certificates;

import io.clicktls.metrics.Metrics;
import io.clicktls.pki.CertifiedKey;
import io.clicktls.storage.Storage;
import io.clicktls.storage.StorageKeys;
import io.clicktls.storage.StorageUnavailableException;
import java.io.IOException;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One order per name across every node sharing the storage: before a node orders (or renews) the certificate of a
 * name it takes the name's lease ({@link StorageKeys#orderLease}), renews it every third of its duration while the
 * order runs, and writes the certificate fenced by it. A node that finds the lease held elsewhere waits for the
 * holder's result: woken by the storage's change feed on the entry's {@code meta.json} where there is one, and by
 * polls from {@link #POLL} ms apart, doubling to {@link #MAX_POLL} (a lease that ran out sends no notification), until
 * the certificate is in storage, the lease has run out without one (then this node takes it), or its time is up.
 * The doubling matters: a thousand names clicked on three nodes at once are two thousand waiters, and a poll every
 * 250 ms each would take the database's whole connection pool.
 *
 * <p>Where a folder cannot take a lease (a full or read-only disk) the order goes ahead without one, as on a single
 * node: issuing must not depend on writing a lease there. Where the shared storage cannot be reached or has no
 * connection free ({@link StorageUnavailableException}), the claim fails instead: ordering without the lease is how
 * a cluster would place one order per node; the handshake fails and the next one tries again.
 *
 * <p>Threading: the looks at storage of a claim run on {@code looks}, the renewals of a held lease on {@code leaseWork}
 * (an executor of its own in a node: a renewal queued behind a burst of orders past the lease's expiry would let a
 * second node order the name); {@code timers} only schedules polls and renewals. Thread-safe.
 */
final class OrderLeases {

    private static final Logger log = LoggerFactory.getLogger(OrderLeases.class);
    /** Between two looks at storage while another node orders, where no change feed wakes the waiter sooner. */
    static final long POLL = 250;
    /** The longest wait between two polls. */
    static final long MAX_POLL = 2_000;

    private final Storage storage;
    private final Duration duration;
    private final ScheduledExecutorService timers;
    private final Executor looks;
    private final Executor leaseWork;
    private final Metrics metrics;

    OrderLeases(
            Storage storage,
            Duration duration,
            ScheduledExecutorService timers,
            Executor looks,
            Executor leaseWork,
            Metrics metrics) {
        this.storage = storage;
        this.duration = duration;
        this.timers = timers;
        this.looks = looks;
        this.leaseWork = leaseWork;
        this.metrics = metrics;
    }

    /**
     * The right to order a name, or the certificate another node obtained meanwhile. {@code hold} is {@code null}
     * when there is {@code found} a certificate, and also when the storage could not lease (order without one).
     * {@code waited}: the lease was held elsewhere first, so the node that held it may have failed meanwhile.
     */
    record Claim(Hold hold, CertifiedKey found, boolean waited) {
        Claim(Hold hold, CertifiedKey found) {
            this(hold, found, false);
        }
    }

    /**
     * Takes the lease of {@code name}, waiting at most {@code wait} while another node holds it. Right after taking
     * it, and at every look while waiting, {@code found} reads storage (blocking): a certificate there ends the claim
     * with it, and the lease, if taken, is given back at once, since another node finished the work meanwhile.
     */
    CompletableFuture<Claim> claim(String name, Duration wait, Supplier<CertifiedKey> found) {
        Waiter waiter = new Waiter(name, System.nanoTime() + wait.toNanos(), found);
        waiter.next(0);
        return waiter.result;
    }

    /**
     * A lease held: renewed every third of its duration until closed. Closing gives the lease back (blocking: not on
     * an event loop); closing twice does nothing.
     */
    final class Hold implements AutoCloseable {
        private final Storage.Lease lease;
        private final ScheduledFuture<?> renewals;
        private boolean lost;
        private boolean closed;

        private Hold(Storage.Lease lease) {
            this.lease = lease;
            metrics.leasesHeld(1);
            long every = Math.max(1, duration.toMillis() / 3);
            this.renewals =
                    timers.scheduleAtFixedRate(() -> run(leaseWork, this::renew), every, every, TimeUnit.MILLISECONDS);
        }

        Storage.Lease lease() {
            return lease;
        }

        /** One at a time: after a long pause the timer's missed runs come in a burst. */
        private synchronized void renew() {
            if (lost || closed) {
                return;
            }
            try {
                if (!lease.renew(duration)) {
                    lost = true;
                    log.warn(
                            "the lease on ordering {} was taken over by another node; what this order brings will"
                                    + " not be stored",
                            lease.name());
                }
            } catch (IOException | RuntimeException e) {
                log.warn("could not renew the lease on ordering {}: {}", lease.name(), e.getMessage());
            }
        }

        @Override
        public synchronized void close() {
            if (closed) {
                return;
            }
            closed = true;
            renewals.cancel(false);
            metrics.leasesHeld(-1);
            try {
                lease.close();
            } catch (IOException | RuntimeException e) {
                // It runs out by itself.
                log.warn("could not give back the lease on ordering {}: {}", lease.name(), e.getMessage());
            }
        }
    }

    /** One claim in progress: a look at storage now, then one per poll or change notification, one at a time. */
    private final class Waiter {
        final String name;
        final long deadline;
        final Supplier<CertifiedKey> found;
        final CompletableFuture<Claim> result = new CompletableFuture<>();
        final String metaKey;
        private AutoCloseable feed;
        private boolean waited;
        private long pollMillis = POLL;

        Waiter(String name, long deadline, Supplier<CertifiedKey> found) {
            this.name = name;
            this.deadline = deadline;
            this.found = found;
            this.metaKey = StorageKeys.certificate(name, StorageKeys.META_FILE);
        }

        void next(long delayMillis) {
            try {
                if (delayMillis == 0) {
                    looks.execute(() -> look(true));
                } else {
                    timers.schedule(
                            () -> {
                                try {
                                    looks.execute(() -> look(true));
                                } catch (RejectedExecutionException e) {
                                    finish(null, e);
                                }
                            },
                            delayMillis,
                            TimeUnit.MILLISECONDS);
                }
            } catch (RejectedExecutionException e) {
                finish(null, e);
            }
        }

        private synchronized void look(boolean polling) {
            if (result.isDone()) {
                return;
            }
            try {
                Optional<? extends Storage.Lease> taken;
                try {
                    taken = storage.tryLease(StorageKeys.orderLease(name), duration);
                } catch (StorageUnavailableException e) {
                    if (e.busy() && System.nanoTime() - deadline < 0) {
                        // every pooled connection in use (a burst of new names): the database answers, look again
                        if (polling) {
                            next(nextPoll());
                        }
                        return;
                    }
                    metrics.onDemandDenied(Refusal.STORAGE_UNAVAILABLE.label());
                    finish(
                            null,
                            new NameRefusedException(
                                    name,
                                    Refusal.STORAGE_UNAVAILABLE,
                                    "cannot take the lease on ordering it from the storage the nodes share ("
                                            + e.getMessage() + "); not ordering without it"));
                    return;
                } catch (IOException e) {
                    log.warn("cannot take the lease on ordering {} ({}); ordering without one", name, e.getMessage());
                    finish(new Claim(null, found.get()), null);
                    return;
                }
                if (taken.isPresent()) {
                    Hold hold = new Hold(taken.get());
                    CertifiedKey meanwhile;
                    try {
                        meanwhile = found.get();
                    } catch (RuntimeException e) {
                        hold.close();
                        throw e;
                    }
                    if (meanwhile != null) {
                        hold.close();
                        ended("certificate");
                        finish(new Claim(null, meanwhile), null);
                    } else {
                        ended("expired");
                        finish(new Claim(hold, null, waited), null);
                    }
                    return;
                }
                CertifiedKey theirs = found.get();
                if (theirs != null) {
                    ended("certificate");
                    finish(new Claim(null, theirs), null);
                    return;
                }
                if (System.nanoTime() - deadline >= 0) {
                    ended("timeout");
                    finish(
                            null,
                            new IssuanceException("another node is ordering the certificate for " + name
                                    + " and it did not come in time"));
                    return;
                }
                if (!waited) {
                    waited = true;
                    log.info("another node is ordering the certificate for {}; waiting for it", name);
                    watch();
                }
                if (polling) {
                    next(nextPoll());
                }
            } catch (RuntimeException e) {
                finish(null, e);
            }
        }

        /** The wait before the next poll, doubling from {@link #POLL} to {@link #MAX_POLL}, never past the deadline. */
        private long nextPoll() {
            long delay = pollMillis;
            pollMillis = Math.min(MAX_POLL, pollMillis * 2);
            return Math.min(delay, Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
        }

        /** The change feed, where the storage has one, looks again as soon as the entry is written. */
        private void watch() {
            try {
                feed = storage.onChange(key -> {
                    if (key.equals(metaKey)) {
                        run(looks, () -> look(false));
                    }
                });
            } catch (IOException e) {
                log.debug("no change feed for {}; polling only: {}", name, e.getMessage());
            }
        }

        private void ended(String outcome) {
            if (waited) {
                metrics.leaseWaitEnded(outcome);
            }
        }

        private void finish(Claim claim, Throwable failure) {
            if (feed != null) {
                try {
                    feed.close();
                } catch (Exception e) {
                    log.debug("closing a change feed subscription: {}", e.toString());
                }
            }
            if (failure != null) {
                result.completeExceptionally(failure);
            } else if (!result.complete(claim) && claim.hold() != null) {
                claim.hold().close();
            }
        }
    }

    private static void run(Executor executor, Runnable work) {
        try {
            executor.execute(work);
        } catch (RejectedExecutionException e) {
            log.debug("executor full; skipped a lease step: {}", e.toString());
        }
    }
}
