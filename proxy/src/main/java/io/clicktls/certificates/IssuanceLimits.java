package io.clicktls.certificates;

import io.clicktls.config.Certificates;
import io.clicktls.storage.Storage;
import io.clicktls.storage.StorageKeys;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Issuance rate limits over sliding windows: orders for the whole node per 3 hours, certificates per registered
 * domain (see {@link PublicSuffixList}) per week, failed validations per name per hour, and orders for new names per
 * client address and registered domain per week. Only issuance is limited; nothing here is consulted to serve a
 * certificate already held.
 *
 * <p>The two per-week budgets are for new names, and say who may spend them ({@link Requester}): a name first asked
 * for by a client counts against that client's share of its registered domain
 * ({@code new_names_per_client_per_registered_domain_per_week}), so that a flood of random names under an allowed
 * wildcard from one address stops at that share instead of spending the registered domain's week (and refusing the
 * legitimate new names of that domain for seven days). A renewal of a name already held is never held back by
 * either: only the node's order window and the name's failed validations apply to it (a renewal still counts in the
 * windows once issued, as the CA counts it).
 *
 * <p>Each window keeps the instants of its events (at most a limit's worth, so a few hundred), so a window slides
 * exactly and a hold's retry time is the moment the oldest event leaves it. The events are kept in {@link Storage}
 * under {@code limits/} (one text file per window, epoch seconds one per line), shared by every node of a cluster,
 * so that neither a restart nor a second node resets them: each node adds its own events to the stored window with
 * {@link Storage#update} (coalesced, on the given executor), never overwriting another node's, and reads a window
 * again when another node changed it ({@link #reload}). The order window is the one a burst could overshoot: an
 * order is admitted only once the stored window took it, in the same atomic update that checked it, so three nodes
 * place no more orders together than one would.
 *
 * <p>Thread-safe: state changes under this object's lock, which is never held for I/O. {@link #load},
 * {@link #reload} and {@link #tryStartOrder} do storage I/O (the blocking executor); the rest is cheap and may run on
 * an event loop.
 */
public final class IssuanceLimits {

    /** The limit names, as {@link Hold#limit()} gives them; the same as the config keys. */
    public static final String ORDERS = "orders_per_3h";

    public static final String CERTIFICATES = "certificates_per_registered_domain_per_week";
    public static final String FAILURES = "failed_validations_per_name_per_hour";
    public static final String NEW_NAMES_PER_CLIENT = "new_names_per_client_per_registered_domain_per_week";

    static final Duration ORDERS_WINDOW = Duration.ofHours(3);
    static final Duration CERTIFICATES_WINDOW = Duration.ofDays(7);
    static final Duration FAILURES_WINDOW = Duration.ofHours(1);

    private static final Logger log = LoggerFactory.getLogger(IssuanceLimits.class);
    private static final String ORDERS_KEY = StorageKeys.LIMITS_ORDERS;
    private static final String CERTIFICATES_PREFIX = StorageKeys.LIMITS_CERTIFICATES;
    private static final String FAILURES_PREFIX = StorageKeys.LIMITS_FAILURES;
    /** When only orders in flight fill a registered domain's week: look again this soon. */
    private static final Duration IN_FLIGHT_RETRY = Duration.ofMinutes(1);

    /**
     * Why a name is not issued for now, and when it may be.
     *
     * @param limit which limit: {@link #ORDERS}, {@link #CERTIFICATES} or {@link #FAILURES}
     * @param retryAt the earliest moment the limit lets the name through again
     * @param explanation one sentence for a person, e.g. on the status page
     */
    public record Hold(String name, String limit, Instant retryAt, String explanation) {}

    /**
     * On whose behalf an order is placed, which decides the budgets it may spend.
     *
     * @param client the client's address as budgeted (IPv4 address, or the /64 of an IPv6 address), or {@code null}
     *     when no client asked (the operator's own names, an "issue now")
     * @param renewal whether the name already had a certificate: then no new-name budget applies
     */
    public record Requester(String client, boolean renewal) {

        /** No client asked: the operator's listed name or action. New-name budgets per registered domain apply. */
        public static final Requester OPERATOR = new Requester(null, false);
        /** A name already held gets a new certificate: only the node's order window and its failures apply. */
        public static final Requester RENEWAL = new Requester(null, true);

        /** A new name first asked for by a connection from {@code address} ({@code null}: no client known). */
        public static Requester client(InetAddress address) {
            return address == null ? OPERATOR : new Requester(budgetKey(address), false);
        }

        /**
         * The unit a client's budget is kept for: one IPv4 address, or one IPv6 /64 (the smallest prefix a site is
         * usually given, so that one host cannot walk its addresses to get more).
         */
        static String budgetKey(InetAddress address) {
            byte[] bytes = address.getAddress();
            if (bytes.length == 4) {
                return address.getHostAddress();
            }
            StringBuilder prefix = new StringBuilder(24);
            for (int i = 0; i < 8; i += 2) {
                prefix.append(Integer.toHexString(((bytes[i] & 0xff) << 8) | (bytes[i + 1] & 0xff)))
                        .append(':');
            }
            return prefix.append(":/64").toString();
        }
    }

    private final Storage storage;
    private final Executor persistence;
    private final PublicSuffixList suffixes;
    private final Clock clock;

    private final ArrayDeque<Instant> orders = new ArrayDeque<>();
    private final Map<String, ArrayDeque<Instant>> certificates = new HashMap<>();
    private final Map<String, Integer> inFlight = new HashMap<>();
    private final Map<String, ArrayDeque<Instant>> failures = new HashMap<>();
    /**
     * Orders for new names by client and registered domain ({@code client + " " + domain}). In memory only: an entry
     * is made only when an order starts, so the node's order window bounds them; a restart forgets them, and the
     * registered domain's budget, which is kept, still bounds what they protect.
     */
    private final Map<String, ArrayDeque<Instant>> clientOrders = new HashMap<>();

    /** Events this node added to a window (by storage key) and has not written yet. */
    private final Map<String, List<Instant>> unwrittenEvents = new HashMap<>();
    /** How many of a window's latest events this node took back (a cancelled order) and has not written yet. */
    private final Map<String, Integer> unwrittenRemovals = new HashMap<>();

    private boolean flushQueued;
    private Instant lastSweep = Instant.EPOCH;

    /**
     * @param persistence runs the storage writes; the blocking executor, never an event loop
     */
    public IssuanceLimits(Storage storage, Executor persistence, PublicSuffixList suffixes, Clock clock) {
        this.storage = storage;
        this.persistence = persistence;
        this.suffixes = suffixes;
        this.clock = clock;
    }

    /** Reads the windows written by an earlier run. Blocking: call once at start, off the event loops. */
    public void load() throws IOException {
        Instant now = clock.instant();
        int events = 0;
        for (String key : storage.list(StorageKeys.LIMITS)) {
            Optional<byte[]> bytes = storage.load(key);
            if (bytes.isEmpty()) {
                continue;
            }
            ArrayDeque<Instant> window = parse(key, bytes.get());
            synchronized (this) {
                events += replaceWindow(key, window, now);
            }
        }
        log.info("issuance limits: {} recent event(s) read from storage", events);
    }

    /**
     * Reads the window under {@code key} again, after another node changed it; this node's events not written yet
     * stay counted. Keys outside {@code limits/} are ignored. Blocking (one storage read).
     */
    public void reload(String key) {
        if (!key.startsWith(StorageKeys.LIMITS)) {
            return;
        }
        try {
            Optional<byte[]> bytes = storage.load(key);
            ArrayDeque<Instant> stored = bytes.isEmpty() ? new ArrayDeque<>() : parse(key, bytes.get());
            synchronized (this) {
                replaceWindow(key, withUnwritten(key, stored), clock.instant());
            }
        } catch (IOException | RuntimeException e) {
            log.warn("cannot read {} again after another node changed it: {}", key, e.toString());
        }
    }

    /** Puts {@code window} in place of the memory window of {@code key}, pruned; the lock is held. */
    private int replaceWindow(String key, ArrayDeque<Instant> window, Instant now) {
        if (key.equals(ORDERS_KEY)) {
            orders.clear();
            orders.addAll(window);
            prune(orders, now.minus(ORDERS_WINDOW));
            return orders.size();
        }
        Map<String, ArrayDeque<Instant>> windows;
        String name;
        if (key.startsWith(CERTIFICATES_PREFIX)) {
            windows = certificates;
            name = key.substring(CERTIFICATES_PREFIX.length());
        } else if (key.startsWith(FAILURES_PREFIX)) {
            windows = failures;
            name = key.substring(FAILURES_PREFIX.length());
        } else {
            return 0;
        }
        prune(window, now.minus(windowLength(key)));
        if (window.isEmpty()) {
            windows.remove(name);
        } else {
            windows.put(name, window);
        }
        return window.size();
    }

    private static Duration windowLength(String key) {
        if (key.equals(ORDERS_KEY)) {
            return ORDERS_WINDOW;
        }
        return key.startsWith(CERTIFICATES_PREFIX) ? CERTIFICATES_WINDOW : FAILURES_WINDOW;
    }

    /** Whether a limit holds {@code name} back now for a new order by the operator, without recording anything. */
    public synchronized Optional<Hold> hold(String name, Certificates.Limits limits) {
        return Optional.ofNullable(check(name, limits, clock.instant(), Requester.OPERATOR));
    }

    /** {@link #tryStartOrder(String, Certificates.Limits, Requester)} for the operator. */
    public Optional<Hold> tryStartOrder(String name, Certificates.Limits limits) {
        return tryStartOrder(name, limits, Requester.OPERATOR);
    }

    /**
     * Starts an order for {@code name} if every limit that applies to {@code requester} allows it, recording the
     * order at once (so concurrent callers cannot overshoot), against the client's share when a client asked, and the
     * certificate as in flight for its registered domain until {@link #issued} or {@link #failed}. Returns the hold
     * otherwise.
     */
    public Optional<Hold> tryStartOrder(String name, Certificates.Limits limits, Requester requester) {
        Instant now = clock.instant();
        synchronized (this) {
            sweep(now);
            Hold hold = check(name, limits, now, requester);
            if (hold != null) {
                return Optional.of(hold);
            }
        }
        // Memory said yes; the stored window, which every node adds to, decides.
        Admission stored;
        try {
            stored = admitOrder(now, limits.ordersPer3h());
        } catch (IOException | RuntimeException e) {
            log.warn(
                    "cannot check the cluster's order window in storage; deciding on this node's view: {}",
                    e.toString());
            stored = null;
        }
        synchronized (this) {
            if (stored != null) {
                replaceWindow(ORDERS_KEY, withUnwritten(ORDERS_KEY, stored.window()), now);
                if (!stored.admitted()) {
                    return Optional.of(ordersHold(name, limits));
                }
            } else {
                orders.addLast(now);
                unwritten(ORDERS_KEY, now);
            }
            started(name, requester, now);
        }
        return Optional.empty();
    }

    /** The stored order window after {@link #admitOrder}, and whether it took the order. */
    private record Admission(ArrayDeque<Instant> window, boolean admitted) {}

    /** Adds an order at {@code now} to the stored order window, in one atomic update, if it has room. */
    private Admission admitOrder(Instant now, int limit) throws IOException {
        boolean[] admitted = {false};
        Optional<byte[]> after = storage.update(ORDERS_KEY, current -> {
            ArrayDeque<Instant> window = current.isEmpty() ? new ArrayDeque<>() : parse(ORDERS_KEY, current.get());
            prune(window, now.minus(ORDERS_WINDOW));
            admitted[0] = window.size() < limit;
            if (!admitted[0]) {
                return null;
            }
            window.addLast(now);
            return format(window);
        });
        return new Admission(after.isEmpty() ? new ArrayDeque<>() : parse(ORDERS_KEY, after.get()), admitted[0]);
    }

    /** Records the rest of an admitted order's start; the lock is held. */
    private void started(String name, Requester requester, Instant now) {
        Optional<String> domain = registeredDomain(name);
        domain.ifPresent(d -> inFlight.merge(d, 1, Integer::sum));
        if (requester.client() != null && !requester.renewal()) {
            domain.ifPresent(d -> clientOrders
                    .computeIfAbsent(requester.client() + " " + d, k -> new ArrayDeque<>())
                    .addLast(now));
        }
    }

    /** An order started by {@link #tryStartOrder} produced a certificate: it counts for its registered domain. */
    public void issued(String name) {
        finish(name, true);
    }

    /** An order started by {@link #tryStartOrder} failed: a failed validation counts for the name. */
    public void failed(String name) {
        finish(name, false);
    }

    /** An order started by {@link #tryStartOrder} for {@code requester} was never sent to the CA: it is taken back. */
    public synchronized void cancelled(String name, Requester requester) {
        if (!orders.isEmpty()) {
            orders.removeLast();
            unwrittenRemovals.merge(ORDERS_KEY, 1, Integer::sum);
            queueFlush();
        }
        Optional<String> domain = registeredDomain(name);
        domain.ifPresent(d -> inFlight.computeIfPresent(d, (k, count) -> count <= 1 ? null : count - 1));
        if (requester.client() != null && !requester.renewal()) {
            domain.ifPresent(d -> clientOrders.computeIfPresent(requester.client() + " " + d, (k, window) -> {
                window.pollLast();
                return window.isEmpty() ? null : window;
            }));
        }
    }

    /**
     * Records an order that bypassed {@link #tryStartOrder} (a renewal the scheduler asked for, which must not be
     * refused): it still counts against the windows. {@code succeeded} as for {@link #issued} and {@link #failed}.
     */
    public synchronized void recordUnplanned(String name, boolean succeeded) {
        Instant now = clock.instant();
        orders.addLast(now);
        unwritten(ORDERS_KEY, now);
        registeredDomain(name).ifPresent(domain -> inFlight.merge(domain, 1, Integer::sum));
        finish(name, succeeded);
    }

    private synchronized void finish(String name, boolean succeeded) {
        Instant now = clock.instant();
        Optional<String> domain = registeredDomain(name);
        domain.ifPresent(d -> inFlight.computeIfPresent(d, (k, count) -> count <= 1 ? null : count - 1));
        if (succeeded) {
            domain.ifPresent(d -> {
                certificates.computeIfAbsent(d, k -> new ArrayDeque<>()).addLast(now);
                unwritten(CERTIFICATES_PREFIX + d, now);
            });
        } else {
            failures.computeIfAbsent(name, k -> new ArrayDeque<>()).addLast(now);
            unwritten(FAILURES_PREFIX + name, now);
        }
    }

    /** Holds before any state change; the lock is held. */
    private Hold check(String name, Certificates.Limits limits, Instant now, Requester requester) {
        prune(orders, now.minus(ORDERS_WINDOW));
        if (orders.size() >= limits.ordersPer3h()) {
            return ordersHold(name, limits);
        }
        ArrayDeque<Instant> failed = failures.get(name);
        if (failed != null) {
            prune(failed, now.minus(FAILURES_WINDOW));
            if (failed.isEmpty()) {
                failures.remove(name);
                emptied(FAILURES_PREFIX + name);
            } else if (failed.size() >= limits.failedValidationsPerNamePerHour()) {
                Instant retry = retryAt(failed, limits.failedValidationsPerNamePerHour(), FAILURES_WINDOW);
                return new Hold(
                        name,
                        FAILURES,
                        retry,
                        name + " failed validation " + failed.size()
                                + " times in the last hour (limit " + limits.failedValidationsPerNamePerHour()
                                + "); next try at " + retry);
            }
        }
        Optional<String> domain = registeredDomain(name);
        if (requester.renewal()) {
            return null; // the budgets below are for new names
        }
        if (domain.isPresent() && requester.client() != null) {
            ArrayDeque<Instant> started = clientOrders.get(requester.client() + " " + domain.get());
            int share = limits.newNamesPerClientPerRegisteredDomainPerWeek();
            if (started != null) {
                prune(started, now.minus(CERTIFICATES_WINDOW));
                if (started.isEmpty()) {
                    clientOrders.remove(requester.client() + " " + domain.get());
                } else if (started.size() >= share) {
                    Instant retry = retryAt(started, share, CERTIFICATES_WINDOW);
                    return new Hold(
                            name,
                            NEW_NAMES_PER_CLIENT,
                            retry,
                            "client " + requester.client() + " asked for " + started.size() + " new names of "
                                    + domain.get() + " in the last 7 days (limit " + share
                                    + " per client); next try at "
                                    + retry);
                }
            }
        }
        if (domain.isPresent()) {
            ArrayDeque<Instant> issued = certificates.get(domain.get());
            int recent = 0;
            if (issued != null) {
                prune(issued, now.minus(CERTIFICATES_WINDOW));
                if (issued.isEmpty()) {
                    certificates.remove(domain.get());
                    emptied(CERTIFICATES_PREFIX + domain.get());
                }
                recent = issued.size();
            }
            int pending = inFlight.getOrDefault(domain.get(), 0);
            int limit = limits.certificatesPerRegisteredDomainPerWeek();
            if (recent + pending >= limit) {
                Instant retry =
                        recent >= limit ? retryAt(issued, limit, CERTIFICATES_WINDOW) : now.plus(IN_FLIGHT_RETRY);
                return new Hold(
                        name,
                        CERTIFICATES,
                        retry,
                        recent + " certificates issued for " + domain.get()
                                + " in the last 7 days" + (pending > 0 ? " and " + pending + " being issued" : "")
                                + " (limit " + limit + "); next try at " + retry);
            }
        }
        return null;
    }

    /** The order window is full; the lock is held. */
    private Hold ordersHold(String name, Certificates.Limits limits) {
        Instant retry = retryAt(orders, limits.ordersPer3h(), ORDERS_WINDOW);
        return new Hold(
                name,
                ORDERS,
                retry,
                "the nodes sharing this storage placed " + orders.size() + " orders in the last 3 hours (limit "
                        + limits.ordersPer3h() + "); next order possible at " + retry);
    }

    /** When the window will have room for one more event: once all but {@code limit - 1} have left it. */
    private static Instant retryAt(ArrayDeque<Instant> window, int limit, Duration length) {
        int leaving = window.size() - limit + 1;
        Iterator<Instant> oldest = window.iterator();
        Instant at = oldest.next();
        for (int i = 1; i < leaving; i++) {
            at = oldest.next();
        }
        return at.plus(length);
    }

    private Optional<String> registeredDomain(String name) {
        Optional<String> domain = suffixes.registeredDomain(name);
        // A name that is a public suffix never gets this far (the policy refuses it); count it as its own.
        return domain.isPresent() ? domain : Optional.of(name);
    }

    /** Drops the windows that emptied, at most once a minute, so names seen once do not stay for ever. */
    private void sweep(Instant now) {
        if (Duration.between(lastSweep, now).compareTo(Duration.ofMinutes(1)) < 0) {
            return;
        }
        lastSweep = now;
        sweep(certificates, CERTIFICATES_PREFIX, now.minus(CERTIFICATES_WINDOW));
        sweep(failures, FAILURES_PREFIX, now.minus(FAILURES_WINDOW));
        clientOrders.values().removeIf(window -> {
            prune(window, now.minus(CERTIFICATES_WINDOW));
            return window.isEmpty();
        });
    }

    private void sweep(Map<String, ArrayDeque<Instant>> windows, String prefix, Instant oldestKept) {
        for (Iterator<Map.Entry<String, ArrayDeque<Instant>>> it =
                        windows.entrySet().iterator();
                it.hasNext(); ) {
            Map.Entry<String, ArrayDeque<Instant>> entry = it.next();
            prune(entry.getValue(), oldestKept);
            if (entry.getValue().isEmpty()) {
                it.remove();
                emptied(prefix + entry.getKey());
            }
        }
    }

    private static void prune(ArrayDeque<Instant> window, Instant oldestKept) {
        while (!window.isEmpty() && !window.peekFirst().isAfter(oldestKept)) {
            window.removeFirst();
        }
    }

    // ---- persistence

    /** Remembers an event this node added to the window under {@code key}, to be written; the lock is held. */
    private void unwritten(String key, Instant at) {
        unwrittenEvents.computeIfAbsent(key, k -> new ArrayList<>()).add(at);
        queueFlush();
    }

    /** The memory window of {@code key} emptied: the stored one is pruned (and deleted if empty); the lock is held. */
    private void emptied(String key) {
        unwrittenEvents.computeIfAbsent(key, k -> new ArrayList<>());
        queueFlush();
    }

    /** {@code stored} with this node's unwritten changes to {@code key} laid over it; the lock is held. */
    private ArrayDeque<Instant> withUnwritten(String key, ArrayDeque<Instant> stored) {
        for (int i = unwrittenRemovals.getOrDefault(key, 0); i > 0 && !stored.isEmpty(); i--) {
            stored.pollLast();
        }
        stored.addAll(unwrittenEvents.getOrDefault(key, List.of()));
        return stored;
    }

    /** The lock is held. */
    private void queueFlush() {
        if (flushQueued) {
            return;
        }
        flushQueued = true;
        try {
            persistence.execute(this::flush);
        } catch (RejectedExecutionException e) {
            flushQueued = false; // written with the next change
            log.warn("could not queue a write of the issuance limits: {}", e.toString());
        }
    }

    /**
     * Adds this node's events to the stored windows, each in one {@link Storage#update} (so another node's events
     * written meanwhile are kept), pruning what has left the window. Runs on the persistence executor.
     */
    private void flush() {
        Map<String, List<Instant>> events;
        Map<String, Integer> removals;
        synchronized (this) {
            flushQueued = false;
            events = new HashMap<>(unwrittenEvents);
            removals = new HashMap<>(unwrittenRemovals);
            unwrittenEvents.clear();
            unwrittenRemovals.clear();
        }
        Set<String> keys = new HashSet<>(events.keySet());
        keys.addAll(removals.keySet());
        Instant now = clock.instant();
        for (String key : keys) {
            try {
                Optional<byte[]> after = storage.update(key, current -> {
                    ArrayDeque<Instant> window = current.isEmpty() ? new ArrayDeque<>() : parse(key, current.get());
                    for (int i = removals.getOrDefault(key, 0); i > 0 && !window.isEmpty(); i--) {
                        window.pollLast();
                    }
                    window.addAll(events.getOrDefault(key, List.of()));
                    prune(window, now.minus(windowLength(key)));
                    return format(window);
                });
                if (after.isPresent() && after.get().length == 0) {
                    // names seen once must not leave a file each for ever; another node's event written between
                    // the update and this delete is lost, which only lets one more order through
                    storage.delete(key);
                }
            } catch (IOException | RuntimeException e) {
                log.warn("could not write {}: {}", key, e.toString());
            }
        }
    }

    private static byte[] format(ArrayDeque<Instant> window) {
        StringBuilder text = new StringBuilder(window.size() * 11);
        for (Instant at : window) {
            text.append(at.getEpochSecond()).append('\n');
        }
        return text.toString().getBytes(StandardCharsets.US_ASCII);
    }

    private static ArrayDeque<Instant> parse(String key, byte[] bytes) {
        ArrayDeque<Instant> window = new ArrayDeque<>();
        for (String line : List.of(new String(bytes, StandardCharsets.US_ASCII).split("\n"))) {
            if (line.isBlank()) {
                continue;
            }
            try {
                window.addLast(Instant.ofEpochSecond(Long.parseLong(line.strip())));
            } catch (NumberFormatException e) {
                log.warn("{}: ignoring the line '{}'", key, line);
            }
        }
        return window;
    }
}
