package io.clicktls.certificates;

import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.config.ClickTlsConfig;
import io.clicktls.config.ConfigLoader;
import io.clicktls.config.ConfigSnapshot;
import io.clicktls.config.Domain;
import io.clicktls.metrics.Metrics;
import io.clicktls.pki.CertifiedKey;
import io.clicktls.storage.CertificateStore;
import io.clicktls.testing.InMemoryStorage;
import io.clicktls.testing.ManualScheduledExecutor;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The pace of issuing listed names ahead of their first handshake, with a manual clock and a recording lookup. */
class CertificatePrefetchTest {

    private static final Instant START = Instant.parse("2026-12-07T12:00:00Z");

    private final ManualScheduledExecutor timers = new ManualScheduledExecutor(START);
    private final InMemoryStorage storage = new InMemoryStorage();
    private final CertificateStore store = new CertificateStore(storage);
    private final Metrics metrics = new Metrics();
    private final List<String> looked = new CopyOnWriteArrayList<>();
    private final Map<String, CompletableFuture<CertifiedKey>> pending = new ConcurrentHashMap<>();

    @AfterEach
    void closeMetrics() {
        metrics.close();
    }

    @Test
    void atMostTwoOrdersRunAtOnceAndTheNextStartsWhenOneEnds() throws Exception {
        ConfigSnapshot snapshot = snapshot(250, names("n", 5));
        CertificatePrefetch prefetch = prefetch(snapshot, policy(snapshot), this::parked);

        prefetch.start();
        assertThat(looked).containsExactly("n0.example.com", "n1.example.com");
        assertThat(prefetch.queuedCount()).isEqualTo(5);

        pending.get("n0.example.com").complete(null);
        assertThat(looked).hasSize(3);
        for (int round = 0; round < 5; round++) {
            List.copyOf(pending.values()).forEach(order -> order.complete(null));
        }

        assertThat(looked).hasSize(5).doesNotHaveDuplicates();
        assertThat(prefetch.queuedCount()).isZero();
    }

    @Test
    void aQuarterOfTheOrderWindowIsLeftToHandshakesAndTheRestFollowsWhenTheWindowMoves() throws Exception {
        ConfigSnapshot snapshot = snapshot(8, names("n", 10));
        IssuancePolicy policy = policy(snapshot);
        CertificatePrefetch prefetch = prefetch(snapshot, policy, name -> {
            looked.add(name);
            // the policy's own order, as the resolver places it: counted in the window
            IssuancePolicy.OrderDecision decision = policy.decideOrder(
                            name, snapshot, IssuanceLimits.Requester.OPERATOR)
                    .join();
            assertThat(decision.allowed()).as(name).isTrue();
            decision.order().issued();
            return CompletableFuture.completedFuture(null);
        });

        prefetch.start();
        assertThat(looked).as("8 orders per 3 h, 2 kept for handshakes").hasSize(6);
        assertThat(policy.hold("n9.example.com"))
                .as("a handshake may still order")
                .isEmpty();
        assertThat(prefetch.queuedCount()).isEqualTo(4);

        timers.advance(Duration.ofHours(3).plusSeconds(1));
        assertThat(looked).hasSize(10).doesNotHaveDuplicates();
    }

    @Test
    void aNameRefusedByDnsWaitsWithTheReasonAndIsTriedAgainLater() throws Exception {
        ConfigSnapshot snapshot = snapshot(250, names("n", 1));
        List<Boolean> pointsHere = new ArrayList<>(List.of(false));
        CertificatePrefetch prefetch = prefetch(snapshot, policy(snapshot), name -> {
            looked.add(name);
            return pointsHere.get(0)
                    ? CompletableFuture.completedFuture(null)
                    : CompletableFuture.failedFuture(new NameRefusedException(
                            name, Refusal.DNS_ELSEWHERE, name + " resolves to 192.0.2.7, not to 127.0.0.1"));
        });

        prefetch.start();
        assertThat(prefetch.waiting("n0.example.com")).hasValueSatisfying(waiting -> {
            assertThat(waiting.waitingFor()).isEqualTo(CertificatePrefetch.WaitingFor.DNS);
            assertThat(waiting.reason())
                    .isEqualTo("waiting for DNS: n0.example.com resolves to 192.0.2.7, not to 127.0.0.1");
            assertThat(waiting.retryAt()).isEqualTo(START.plus(Duration.ofMinutes(1)));
        });

        timers.advance(Duration.ofMinutes(1));
        assertThat(looked).hasSize(2);
        assertThat(prefetch.waiting("n0.example.com").orElseThrow().retryAt())
                .as("the second wait is twice as long")
                .isEqualTo(START.plus(Duration.ofMinutes(3)));

        pointsHere.set(0, true);
        timers.advance(Duration.ofMinutes(2));
        assertThat(looked).hasSize(3);
        assertThat(prefetch.waiting("n0.example.com")).isEmpty();
    }

    @Test
    void prefetchFalseOrdersNothingAndWildcardsAreNeverOrdered() throws Exception {
        ConfigSnapshot snapshot = snapshot(250, List.of(new Domain("*.wild.example.com", "sg")));
        CertificatePrefetch prefetch = prefetch(snapshot, policy(snapshot), this::parked);
        prefetch.start();
        assertThat(looked).isEmpty();

        ConfigSnapshot off = snapshot(250, names("n", 3), false);
        prefetch.pass(off);
        assertThat(looked).isEmpty();
        prefetch.pass(snapshot(250, names("n", 3)));
        assertThat(looked).hasSize(2);
    }

    @Test
    void aPassOver100000ListedNamesThatAllHaveCertificatesOrdersNothing() throws Exception {
        List<Domain> domains = names("n", 100_000);
        for (Domain domain : domains) {
            storage.store("certificates/" + domain.name() + "/meta.json", meta(domain.name()));
        }
        store.scanIndex();
        ConfigSnapshot snapshot = snapshot(250, domains);
        CertificatePrefetch prefetch = prefetch(snapshot, policy(snapshot), this::parked);

        long start = System.nanoTime();
        prefetch.start();
        long took = System.nanoTime() - start;

        assertThat(looked).isEmpty();
        assertThat(prefetch.queuedCount()).isZero();
        long again = System.nanoTime();
        prefetch.pass(snapshot);
        long tookAgain = System.nanoTime() - again;
        assertThat(looked).isEmpty();
        System.out.printf(
                "prefetch pass over 100,000 stored names: %d ms first, %d ms again%n",
                took / 1_000_000, tookAgain / 1_000_000);
    }

    private CompletableFuture<CertifiedKey> parked(String name) {
        looked.add(name);
        return pending.computeIfAbsent(name, n -> new CompletableFuture<>());
    }

    private CertificatePrefetch prefetch(
            ConfigSnapshot snapshot, IssuancePolicy policy, Function<String, CompletableFuture<CertifiedKey>> lookup) {
        return new CertificatePrefetch(
                () -> snapshot,
                store,
                lookup,
                name -> false,
                policy,
                Runnable::run,
                timers,
                timers.clock,
                CertificatePrefetch.Settings.DEFAULTS,
                metrics);
    }

    private IssuancePolicy policy(ConfigSnapshot snapshot) throws Exception {
        IssuanceLimits limits = new IssuanceLimits(storage, Runnable::run, PublicSuffixList.bundled(), timers.clock);
        return new IssuancePolicy(() -> snapshot, null, limits, PublicSuffixList.bundled(), null);
    }

    private static List<Domain> names(String prefix, int count) {
        List<Domain> domains = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            domains.add(new Domain(prefix + i + ".example.com", "sg"));
        }
        return domains;
    }

    private static ConfigSnapshot snapshot(int ordersPer3h, List<Domain> domains) throws Exception {
        return snapshot(ordersPer3h, domains, true);
    }

    private static ConfigSnapshot snapshot(int ordersPer3h, List<Domain> domains, boolean prefetch) throws Exception {
        ClickTlsConfig base = ConfigLoader.parse(
                """
                certificates:
                  on_demand:
                    prefetch: %s
                  limits:
                    orders_per_3h: %d
                platforms:
                  sg: { preset: sendgrid }
                domains:
                  - name: placeholder.example.com
                    platform: sg
                """
                        .formatted(prefetch, ordersPer3h),
                "test.yml",
                Path.of("/tmp"));
        return ConfigSnapshot.of(new ClickTlsConfig(
                base.listen(),
                base.storage(),
                base.certificates(),
                base.platforms(),
                domains,
                base.upgrade(),
                base.admin(),
                base.limits(),
                base.tuning(),
                null,
                null,
                null));
    }

    private static byte[] meta(String name) {
        return ("{\"name\":\"" + name + "\",\"issuer\":\"internal\",\"not_before\":\"2026-12-01T00:00:00Z\","
                        + "\"not_after\":\"2027-03-01T00:00:00Z\",\"serial\":\"1f\"}")
                .getBytes(StandardCharsets.UTF_8);
    }
}
