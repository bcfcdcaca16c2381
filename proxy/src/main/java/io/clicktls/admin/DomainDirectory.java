package io.clicktls.admin;

import io.clicktls.certificates.IssuanceFailure;
import io.clicktls.config.ConfigSnapshot;
import io.clicktls.config.Domain;
import io.clicktls.config.DomainTable;
import io.clicktls.config.HostNames;
import io.clicktls.pki.CertifiedKey;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Every domain the status page knows, searched and paged: the config's {@code domains} entries and every name with
 * a certificate (in memory or storage) or a failed attempt. Only the rows of the page asked for are looked at in
 * detail (a storage read each when not in memory), so a page costs the same with 100 or 100,000 domains, apart
 * from sorting the names. The list of stored names is reused for {@link #STORED_NAMES_FRESH}.
 *
 * <p>Blocking (storage I/O): runs on the blocking executor, never on an event loop. Thread-safe.
 */
final class DomainDirectory {

    static final int DEFAULT_SIZE = 50;
    static final int MAX_SIZE = 500;
    static final Duration STORED_NAMES_FRESH = Duration.ofSeconds(10);

    private static final Logger log = LoggerFactory.getLogger(DomainDirectory.class);

    /**
     * One page of the list.
     *
     * @param page 1-based, clamped to the pages there are
     * @param total rows matching the query, on all pages
     * @param failing names whose last attempt failed, matching or not
     */
    record Page(String query, int page, int size, int total, int failing, List<DomainStatus> domains) {
        int pages() {
            return Math.max(1, (total + size - 1) / size);
        }
    }

    private record StoredNames(List<String> names, Instant at) {}

    private final DomainStatusSource source;
    private final Clock clock;
    private volatile StoredNames stored;

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
        addNames(entries, source.namesInMemory());
        addNames(entries, storedNames());
        Collection<String> failed = source.failedNames();
        addNames(entries, failed);

        List<Map.Entry<String, Domain>> matching = new ArrayList<>();
        for (Map.Entry<String, Domain> entry : entries.entrySet()) {
            if (q.isEmpty()
                    || entry.getKey().contains(q)
                    || (entry.getValue() != null
                            && entry.getValue()
                                    .platform()
                                    .toLowerCase(Locale.ROOT)
                                    .contains(q))) {
                matching.add(entry);
            }
        }
        int pages = Math.max(1, (matching.size() + rows - 1) / rows);
        int current = Math.max(1, Math.min(page, pages));
        List<DomainStatus> domains = new ArrayList<>();
        int from = (current - 1) * rows;
        for (int i = from; i < Math.min(from + rows, matching.size()); i++) {
            Map.Entry<String, Domain> entry = matching.get(i);
            domains.add(status(entry.getKey(), entry.getValue(), config));
        }
        return new Page(q, current, rows, matching.size(), failed.size(), domains);
    }

    /** One name or pattern in detail; empty when the page would not list it. */
    Optional<DomainStatus> one(String rawName) {
        String name = HostNames.normalize(rawName);
        ConfigSnapshot config = source.config();
        for (Domain domain : config.config().domains()) {
            if (domain.name().equals(name)) {
                return Optional.of(status(name, domain, config));
            }
        }
        DomainStatus status = status(name, null, config);
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

    private DomainStatus status(String name, Domain entry, ConfigSnapshot config) {
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
                    null);
        }
        Optional<DomainTable.Route> route = config.domains().find(name);
        CertificateFacts certificate = certificate(name);
        boolean issuing = source.issuing(name);
        IssuanceFailure failure = source.lastFailure(name).orElse(null);
        Hold hold = source.hold(name).orElse(null);
        Instant planned = certificate == null ? null : source.nextRenewal(name).orElse(null);
        Instant renewal = planned;
        if (renewal == null && certificate != null && now.isBefore(certificate.notAfter())) {
            // the scheduler plans a new certificate at its next scan; until then, its rule: a third of the lifetime
            Duration lifetime = Duration.between(certificate.notBefore(), certificate.notAfter());
            renewal = certificate.notAfter().minus(lifetime.dividedBy(3));
        }
        return new DomainStatus(
                name,
                false,
                route.isPresent(),
                route.map(r -> r.platform().name()).orElse(entry == null ? null : entry.platform()),
                CertificateState.of(certificate, issuing, failure, hold, now),
                certificate,
                renewal,
                planned != null,
                failure,
                hold,
                source.marked(name).orElse(null),
                null,
                source.orderLease(name).orElse(null));
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
