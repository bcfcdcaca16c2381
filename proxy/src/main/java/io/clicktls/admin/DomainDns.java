package io.clicktls.admin;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.clicktls.certificates.DnsCheck;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * DNS status for the status page: each name checked at most once per {@link #FRESH} (or on demand for one name),
 * so that paging through thousands of domains does not send thousands of queries. Checks run concurrently on the
 * {@link DnsCheck}'s thread; a check already running for a name is shared.
 *
 * <p>Thread-safe; never blocks.
 */
final class DomainDns {

    static final Duration FRESH = Duration.ofMinutes(5);

    private final DnsCheck check;
    private final Clock clock;
    private final Cache<String, DnsStatus> reports;
    private final ConcurrentMap<String, CompletableFuture<DnsStatus>> running = new ConcurrentHashMap<>();

    DomainDns(DnsCheck check, Clock clock) {
        this.check = check;
        this.clock = clock;
        this.reports = Caffeine.newBuilder()
                .maximumSize(20_000)
                .expireAfterWrite(FRESH)
                .build();
    }

    /** The last status of {@code name}, if it is fresh. */
    Optional<DnsStatus> cached(String name) {
        return Optional.ofNullable(reports.getIfPresent(name));
    }

    /**
     * Checks {@code name} now (or joins a check under way).
     *
     * @param platformHost the upstream host of the name's platform, or {@code null}
     * @param expectedTargets {@code on_demand.expect_dns}: lower-case names and IP literals
     */
    CompletableFuture<DnsStatus> check(
            String name, String platformHost, List<String> expectedTargets, DomainStatusSource.CaPolicy ca) {
        CompletableFuture<DnsStatus> mine = new CompletableFuture<>();
        CompletableFuture<DnsStatus> other = running.putIfAbsent(name, mine);
        if (other != null) {
            return other;
        }
        run(name, platformHost, expectedTargets, ca).whenComplete((report, failure) -> {
            DnsStatus result = failure == null
                    ? report
                    : DnsStatus.failed(name, String.valueOf(failure.getMessage()), clock.instant());
            reports.put(name, result);
            running.remove(name, mine);
            mine.complete(result);
        });
        return mine;
    }

    private CompletableFuture<DnsStatus> run(
            String name, String platformHost, List<String> expectedTargets, DomainStatusSource.CaPolicy ca) {
        CompletableFuture<DnsCheck.Report> report = check.check(name, List.copyOf(expectedTargets));
        CompletableFuture<DnsCheck.CaaReport> caa =
                ca.publicCa() ? check.caa(name) : CompletableFuture.completedFuture(null);
        return report.thenCombine(
                caa, (where, records) -> DnsStatus.of(where, records, platformHost, ca, clock.instant()));
    }
}
