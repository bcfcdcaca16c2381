package io.clicktls.admin;

import io.clicktls.certificates.IssuanceFailure;
import io.clicktls.config.ConfigSnapshot;
import io.clicktls.config.Domain;
import io.clicktls.config.DomainTable;
import io.clicktls.config.HostNames;
import io.clicktls.config.Platform;
import io.clicktls.pki.CertifiedKey;
import io.clicktls.storage.Storage;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Every domain the status page knows, searched and paged: the config's {@code domains} entries, every name with
 * a certificate (in memory or storage) or a failed attempt, and every name whose order is in flight on any node
 * sharing the storage (its order lease is held: a name under a wildcard or allowed by {@code ask} that no other list
 * has yet). Only the rows of the page asked for are looked at in detail (a storage read each when not in memory), so
 * a page costs the same with 100 or 100,000 domains, apart from sorting the names; the orders in flight are one read
 * per page (at most {@link #IN_FLIGHT_LISTED}), which also gives each row its lease. The list of stored names is
 * reused for {@link #STORED_NAMES_FRESH}, unless an order listed before has ended since (its certificate is new).
 * A storage that cannot list the orders now (a database outage) leaves them out, and the page says so.
 *
 * <p>Blocking (storage I/O): runs on the blocking executor, never on an event loop. Thread-safe.
 */
final class DomainDirectory {

    static final int DEFAULT_SIZE = 50;
    static final int MAX_SIZE = 500;
    static final Duration STORED_NAMES_FRESH = Duration.ofSeconds(10);
    /** More orders than a burst of new names puts in flight at once; beyond it rows read their own lease. */
    static final int IN_FLIGHT_LISTED = 2_000;

    private static final Logger log = LoggerFactory.getLogger(DomainDirectory.class);

    /**
     * One page of the list.
     *
     * @param page 1-based, clamped to the pages there are
     * @param total rows matching the query, on all pages
     * @param failing names whose last attempt failed, matching or not
     * @param inFlight the orders in flight on every node, matching or not
     */
    record Page(
            String query, int page, int size, int total, int failing, List<DomainStatus> domains, InFlight inFlight) {

        /** The same page with {@code rows} (the same names, more facts) instead of its own. */
        Page withDomains(List<DomainStatus> rows) {
            return new Page(query, page, size, total, failing, List.copyOf(rows), inFlight);
        }

        int pages() {
            return Math.max(1, (total + size - 1) / size);
        }
    }

    /**
     * How many orders are in flight on every node sharing the storage, as listed for a page.
     *
     * @param complete false when more than {@link #IN_FLIGHT_LISTED} are (the rest are not listed)
     * @param unavailable why the storage could not list them now (then {@code count} is 0), or {@code null}
     */
    record InFlight(int count, boolean complete, String unavailable) {
        static final InFlight NONE = new InFlight(0, true, null);
    }

    /**
     * The orders in flight as one page read them: {@code holders} by name; {@code complete} when that is all of them,
     * so a name not there has no lease; {@code unavailable} when the storage could not say.
     */
    private record Orders(SortedMap<String, Storage.LeaseHolder> holders, boolean complete, String unavailable) {
        /** Not listed: each row asks for its own lease. */
        static final Orders UNLISTED = new Orders(Collections.emptySortedMap(), false, null);

        InFlight summary() {
            return new InFlight(holders.size(), complete, unavailable);
        }
    }

    private record StoredNames(List<String> names, Instant at) {}

    private final DomainStatusSource source;
    private final Clock clock;
    private volatile StoredNames stored;
    /** The names in flight at the last listing: one of them gone means a certificate may have been stored since. */
    private volatile Set<String> lastInFlight = Set.of();

    DomainDirectory(DomainStatusSource source, Clock clock) {
        this.source = source;
        this.clock = clock;
    }

    /**
     * @param query a case-insensitive substring of the name or the platform; empty for all
     * @param page 1-based
     * @param size rows per page, at most {@link #MAX_SIZE}
     */
    Page page(String query, int page, int size) {
        String q = query == null ? "" : query.strip().toLowerCase(Locale.ROOT);
        int rows = Math.max(1, Math.min(size, MAX_SIZE));
        ConfigSnapshot config = source.config();
        Map<String, Domain> entries = new TreeMap<>();
        for (Domain domain : config.config().domains()) {
            entries.put(domain.name(), domain);
        }
        Orders orders = ordersInFlight();
        addNames(entries, source.namesInMemory());
        addNames(entries, storedNames());
        Collection<String> failed = source.failedNames();
        addNames(entries, failed);
        addNames(entries, orders.holders().keySet());

        List<Map.Entry<String, Domain>> matching = new ArrayList<>();
        for (Map.Entry<String, Domain> entry : entries.entrySet()) {
            Storage.LeaseHolder lease = orders.holders().get(entry.getKey());
            if (q.isEmpty()
                    || entry.getKey().contains(q)
                    || (entry.getValue() != null
                            && entry.getValue()
                                    .platform()
                                    .toLowerCase(Locale.ROOT)
                                    .contains(q))
                    || (lease != null && lease.holder().toLowerCase(Locale.ROOT).contains(q))) {
                matching.add(entry);
            }
        }
        int pages = Math.max(1, (matching.size() + rows - 1) / rows);
        int current = Math.max(1, Math.min(page, pages));
        List<DomainStatus> domains = new ArrayList<>();
        int from = (current - 1) * rows;
        for (int i = from; i < Math.min(from + rows, matching.size()); i++) {
            Map.Entry<String, Domain> entry = matching.get(i);
            domains.add(status(entry.getKey(), entry.getValue(), config, orders));
        }
        return new Page(q, current, rows, matching.size(), failed.size(), domains, orders.summary());
    }

    /** One name or pattern in detail; empty when the page would not list it. */
    Optional<DomainStatus> one(String rawName) {
        String name = HostNames.normalize(rawName);
        ConfigSnapshot config = source.config();
        for (Domain domain : config.config().domains()) {
            if (domain.name().equals(name)) {
                return Optional.of(status(name, domain, config, Orders.UNLISTED));
            }
        }
        DomainStatus status = status(name, null, config, Orders.UNLISTED);
        boolean known = status.configured()
                || status.certificate() != null
                || status.lastError() != null
                || status.state() == CertificateState.ISSUING
                || status.hold() != null;
        return known ? Optional.of(status) : Optional.empty();
    }

    /** Forgets the stored-names list, after an action changed storage. */
    void invalidate() {
        stored = null;
    }

    private DomainStatus status(String name, Domain entry, ConfigSnapshot config, Orders orders) {
        Instant now = clock.instant();
        if (entry != null && entry.wildcard()) {
            return new DomainStatus(
                    name,
                    true,
                    true,
                    entry.platform(),
                    CertificateState.NONE,
                    null,
                    null,
                    false,
                    null,
                    null,
                    null,
                    null,
                    null,
                    new AllowedBy(AllowedBy.Kind.WILDCARD, name));
        }
        Optional<DomainTable.Route> route = config.domains().find(name);
        AllowedBy allowedBy = AllowedBy.of(name, config).orElse(null);
        CertificateFacts certificate = certificate(name);
        Storage.LeaseHolder lease = lease(name, orders);
        // an order in flight on another node is issuing here too: this node serves its certificate once it is stored
        boolean issuing = source.issuing(name) || lease != null;
        IssuanceFailure failure = source.lastFailure(name).orElse(null);
        Hold hold = source.hold(name).orElse(null);
        Instant planned = certificate == null ? null : source.nextRenewal(name).orElse(null);
        Instant renewal = planned;
        if (renewal == null && certificate != null && now.isBefore(certificate.notAfter())) {
            // the scheduler plans a new certificate at its next scan; until then, its rule: a third of the lifetime
            Duration lifetime = Duration.between(certificate.notBefore(), certificate.notAfter());
            renewal = certificate.notAfter().minus(lifetime.dividedBy(3));
        }
        String platform = route.map(r -> r.platform().name())
                .or(() -> Optional.ofNullable(entry).map(Domain::platform))
                .or(() -> allowedBy != null && allowedBy.kind() == AllowedBy.Kind.ASK
                        ? config.domains().onDemandPlatform().map(Platform::name)
                        : Optional.empty())
                .orElse(null);
        return new DomainStatus(
                name,
                false,
                route.isPresent(),
                platform,
                CertificateState.of(certificate, issuing, failure, hold, now),
                certificate,
                renewal,
                planned != null,
                failure,
                hold,
                source.marked(name).orElse(null),
                null,
                lease,
                allowedBy);
    }

    /** The listing's lease of {@code name}; its own read when the listing is not complete; none when unavailable. */
    private Storage.LeaseHolder lease(String name, Orders orders) {
        Storage.LeaseHolder listed = orders.holders().get(name);
        if (listed != null || orders.complete() || orders.unavailable() != null) {
            return listed;
        }
        return source.orderLease(name).orElse(null);
    }

    /**
     * The orders in flight now, one read; when one listed last time has ended, the stored names are listed again, so
     * that its new certificate's row follows at once rather than after {@link #STORED_NAMES_FRESH}.
     */
    private Orders ordersInFlight() {
        SortedMap<String, Storage.LeaseHolder> holders;
        try {
            holders = source.ordersInFlight(IN_FLIGHT_LISTED);
        } catch (IOException | RuntimeException e) {
            log.debug("cannot list the orders in flight for the status page: {}", e.toString());
            String why = e.getMessage() == null ? e.toString() : e.getMessage();
            return new Orders(Collections.emptySortedMap(), false, why);
        }
        Set<String> before = lastInFlight;
        if (!holders.keySet().containsAll(before)) {
            stored = null;
        }
        lastInFlight = Set.copyOf(holders.keySet());
        return new Orders(holders, holders.size() < IN_FLIGHT_LISTED, null);
    }

    private CertificateFacts certificate(String name) {
        Optional<CertifiedKey> memory = source.inMemory(name);
        CertificateFacts facts = memory.isPresent()
                ? CertificateFacts.of(memory.get(), true)
                : source.stored(name)
                        .map(certified -> CertificateFacts.of(certified, false))
                        .orElse(null);
        if (facts == null) {
            return null;
        }
        String notPersisted = source.notPersisted(name).orElse(null);
        facts = notPersisted == null ? facts : facts.withNotPersisted(notPersisted);
        String node = source.issuedByNode(name).orElse(null);
        return node == null ? facts : facts.withIssuedByNode(node);
    }

    private Collection<String> storedNames() {
        StoredNames current = stored;
        Instant now = clock.instant();
        if (current != null && now.isBefore(current.at().plus(STORED_NAMES_FRESH))) {
            return current.names();
        }
        try {
            List<String> names = List.copyOf(source.storedNames());
            stored = new StoredNames(names, now);
            return names;
        } catch (IOException e) {
            log.warn("cannot list stored certificates for the status page: {}", e.toString());
            return current == null ? List.of() : current.names();
        }
    }

    private static void addNames(Map<String, Domain> entries, Collection<String> names) {
        for (String name : names) {
            entries.putIfAbsent(name, null);
        }
    }
}
