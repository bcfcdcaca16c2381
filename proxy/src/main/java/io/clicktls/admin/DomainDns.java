package io.clicktls.admin;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * DNS reports for the status page: each name checked at most once per {@link #FRESH} (or on demand for one name),
 * so that paging through thousands of domains does not send thousands of queries. Checks run concurrently on the
 * {@link DnsProbe}'s thread; a check already running for a name is shared.
 *
 * <p>Thread-safe; never blocks.
 */
final class DomainDns {

    static final Duration FRESH = Duration.ofMinutes(5);

    private final DnsProbe probe;
    private final Clock clock;
    private final Cache<String, DnsReport> reports;
    private final ConcurrentMap<String, CompletableFuture<DnsReport>> running = new ConcurrentHashMap<>();

    DomainDns(DnsProbe probe, Clock clock) {
        this.probe = probe;
        this.clock = clock;
        this.reports = Caffeine.newBuilder().maximumSize(20_000).expireAfterWrite(FRESH).build();
    }

    /** The last report for {@code name}, if it is fresh. */
    Optional<DnsReport> cached(String name) {
        return Optional.ofNullable(reports.getIfPresent(name));
    }

    /**
     * Checks {@code name} now (or joins a check under way).
     *
     * @param platformHost the upstream host of the name's platform, or {@code null}
     */
    CompletableFuture<DnsReport> check(
            String name, String platformHost, List<String> expectedTargets, DomainStatusSource.CaPolicy ca) {
        CompletableFuture<DnsReport> mine = new CompletableFuture<>();
        CompletableFuture<DnsReport> other = running.putIfAbsent(name, mine);
        if (other != null) {
            return other;
        }
        run(name, platformHost, expectedTargets, ca).whenComplete((report, failure) -> {
            DnsReport result = failure == null ? report
                    : DnsReport.failed(name, String.valueOf(failure.getMessage()), clock.instant());
            reports.put(name, result);
            running.remove(name, mine);
            mine.complete(result);
        });
        return mine;
    }

    private CompletableFuture<DnsReport> run(
            String name, String platformHost, List<String> expectedTargets, DomainStatusSource.CaPolicy ca) {
        Set<String> expectedNames = new LinkedHashSet<>();
        Set<InetAddress> expectedAddresses = ConcurrentHashMap.newKeySet();
        List<CompletableFuture<?>> lookups = new ArrayList<>();
        for (String target : expectedTargets) {
            InetAddress literal = ipLiteral(target);
            if (literal != null) {
                expectedAddresses.add(literal);
            } else {
                String expected = target.toLowerCase(Locale.ROOT);
                expectedNames.add(expected);
                lookups.add(probe.resolve(expected).thenAccept(r -> expectedAddresses.addAll(r.addresses())));
            }
        }
        CompletableFuture<DnsProbe.Resolution> resolution = probe.resolve(name);
        CompletableFuture<DnsProbe.CaaLookup> caa = ca.publicCa()
                ? probe.caa(name) : CompletableFuture.completedFuture(new DnsProbe.CaaLookup(null, List.of(), null));
        lookups.add(resolution);
        lookups.add(caa);
        return CompletableFuture.allOf(lookups.toArray(CompletableFuture[]::new)).thenApply(done ->
                DnsReport.judge(resolution.join(), caa.join(), expectedNames, new HashSet<>(expectedAddresses),
                        platformHost, ca, clock.instant()));
    }

    /** An IPv4 or IPv6 literal, parsed without any lookup; {@code null} for a name. */
    static InetAddress ipLiteral(String text) {
        String bare = text.startsWith("[") && text.endsWith("]") ? text.substring(1, text.length() - 1) : text;
        boolean v4 = bare.matches("(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])(\\.(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])){3}");
        boolean v6 = bare.indexOf(':') >= 0 && bare.chars().allMatch(c -> Character.digit(c, 16) >= 0 || c == ':'
                || c == '.');
        if (!v4 && !v6) {
            return null;
        }
        try {
            return InetAddress.getByName(bare); // a literal: parsed, never looked up
        } catch (UnknownHostException e) {
            return null;
        }
    }
}
