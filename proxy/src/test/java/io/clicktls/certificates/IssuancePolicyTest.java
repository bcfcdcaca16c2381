package io.clicktls.certificates;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.clicktls.config.ConfigLoader;
import io.clicktls.config.ConfigSnapshot;
import io.clicktls.storage.FileStorage;
import io.clicktls.testing.InternalCaStack;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class IssuancePolicyTest {

    private final IssuancePolicy policy = new IssuancePolicy();
    private final ConfigSnapshot config = ConfigSnapshot.of(InternalCaStack.config(
            Path.of("/tmp/unused"), Duration.ofSeconds(1), List.of("links.example.com", "*.shop.test")));

    @Test
    void configuredExactAndWildcardNamesAreAllowed() {
        assertThat(policy.decide("links.example.com", config).allowed()).isTrue();
        assertThat(policy.decide("links.shop.test", config).allowed()).isTrue();
        assertThat(policy.decide("links.shop.test", config).reason()).isNull();
    }

    @Test
    void validNamesOutsideTheDomainTableAreNotConfigured() {
        assertThat(policy.decide("example.com", config))
                .isEqualTo(IssuancePolicy.Decision.refuse(Refusal.NOT_CONFIGURED));
        assertThat(policy.decide("a.b.shop.test", config).reason()).isEqualTo(Refusal.NOT_CONFIGURED);
    }

    @ParameterizedTest
    @ValueSource(
            strings = {
                "",
                "127.0.0.1",
                "10.0.0.300",
                "::1",
                "[::1]",
                "a..b",
                ".a.test",
                "a.test.",
                "-a.test",
                "a-.test",
                "a_b.test",
                "*.shop.test",
                "UPPER.test",
                "caf\u00e9.test",
                "a b.test",
                "links.shop.test:443"
            })
    void namesThatAreNotHostNamesAreInvalid(String name) {
        assertThat(policy.decide(name, config).reason()).isEqualTo(Refusal.INVALID_NAME);
    }

    @ParameterizedTest
    @ValueSource(
            strings = {
                "xn--a.test",
                "xn--.test",
                "ab--cd.test",
                "links.xn--zz-.test",
                "co.uk",
                "github.io",
                "test",
                "localhost"
            })
    void namesNoCaIssuesForAreInvalidToo(String name) {
        assertThat(policy.decide(name, config).reason()).isEqualTo(Refusal.INVALID_NAME);
    }

    @Test
    void punycodeThatDecodesIsAValidNameThoughNotAConfiguredOne() {
        assertThat(policy.decide("links.xn--caf-dma.test", config).reason()).isEqualTo(Refusal.NOT_CONFIGURED);
        assertThat(policy.decide("links.xn--caf-dma.test", config).reason()).isNotEqualTo(Refusal.INVALID_NAME);
    }

    @Test
    void withAskButNoOnDemandPlatformOtherNamesAreRefusedBeforeAsking() throws Exception {
        ConfigSnapshot snapshot = ConfigSnapshot.of(ConfigLoader.parse(
                """
                certificates:
                  on_demand:
                    ask: http://127.0.0.1:9/allow
                platforms:
                  sg: { preset: sendgrid }
                domains:
                  - name: links.example.com
                    platform: sg
                """,
                "test.yml",
                Path.of("/tmp")));
        try (IssuancePolicy full =
                new IssuancePolicy(() -> snapshot, new AskClient(), null, PublicSuffixList.bundled(), null)) {
            CompletableFuture<IssuancePolicy.OrderDecision> decision =
                    full.decideOrder("other.example.org", snapshot, IssuanceLimits.Requester.OPERATOR);

            assertThat(decision).isCompletedWithValue(new IssuancePolicy.OrderDecision(null, Refusal.NO_PLATFORM));
            assertThat(full.decide("links.example.com", snapshot).allowed()).isTrue();
        }
    }

    @Test
    void aConfiguredNameIsAllowedAtOnceUntilTheOrderLimitHoldsItBack(@TempDir Path dir) throws Exception {
        ConfigSnapshot snapshot = oneOrderPer3h(dir);
        try (IssuancePolicy full = withLimitsIn(dir, snapshot)) {
            IssuancePolicy.OrderDecision first = full.decideOrder(
                            "a.example.com", snapshot, IssuanceLimits.Requester.OPERATOR)
                    .join();
            assertThat(first.allowed()).isTrue();
            first.order().issued();

            assertThat(full.decideOrder("b.example.com", snapshot, IssuanceLimits.Requester.OPERATOR))
                    .isCompletedWithValue(new IssuancePolicy.OrderDecision(null, Refusal.RATE_LIMITED));
            assertThat(full.hold("b.example.com"))
                    .get()
                    .extracting(IssuanceLimits.Hold::limit)
                    .isEqualTo(IssuanceLimits.ORDERS);
            assertThat(full.decide("b.example.com", snapshot).allowed())
                    .as("serving is never limited")
                    .isTrue();
        }
    }

    @Test
    void onlyLastingRefusalsAreDefinitive() {
        assertThat(IssuancePolicy.Decision.refuse(Refusal.ASK_DENIED).definitive())
                .isTrue();
        assertThat(IssuancePolicy.Decision.refuse(Refusal.DNS_ELSEWHERE).definitive())
                .isTrue();
        assertThat(IssuancePolicy.Decision.refuse(Refusal.ASK_UNAVAILABLE).definitive())
                .isFalse();
        assertThat(IssuancePolicy.Decision.refuse(Refusal.DNS_UNAVAILABLE).definitive())
                .isFalse();
        assertThat(IssuancePolicy.Decision.allow().definitive()).isFalse();
    }

    @Test
    void anOrderCountsFromItsStartAndACancelledOneIsTakenBackOnce(@TempDir Path dir) throws Exception {
        ConfigSnapshot snapshot = oneOrderPer3h(dir);
        try (IssuancePolicy full = withLimitsIn(dir, snapshot)) {
            Order order = full.decideOrder("a.example.com", snapshot, IssuanceLimits.Requester.OPERATOR)
                    .join()
                    .order();
            assertThat(full.decideOrder("b.example.com", snapshot, IssuanceLimits.Requester.OPERATOR)
                            .join()
                            .refusal())
                    .as("the open order holds the only slot")
                    .isEqualTo(Refusal.RATE_LIMITED);

            order.cancelled();
            assertThatThrownBy(order::cancelled).as("closing twice is a bug").isInstanceOf(AssertionError.class);

            Order next = full.decideOrder("b.example.com", snapshot, IssuanceLimits.Requester.OPERATOR)
                    .join()
                    .order();
            assertThat(next).isNotNull();
            next.issued();
            full.unplannedOrder("c.example.com").issued();
            assertThat(full.decideOrder("d.example.com", snapshot, IssuanceLimits.Requester.OPERATOR)
                            .join()
                            .allowed())
                    .isFalse();
        }
    }

    /** {@code *.example.com} on SendGrid, with {@code certificates.limits.orders_per_3h: 1}. */
    private static ConfigSnapshot oneOrderPer3h(Path dir) throws Exception {
        return ConfigSnapshot.of(ConfigLoader.parse(
                """
                certificates:
                  limits:
                    orders_per_3h: 1
                platforms:
                  sg: { preset: sendgrid }
                domains:
                  - name: "*.example.com"
                    platform: sg
                """,
                "test.yml",
                dir));
    }

    /** A policy without ask or DNS checks whose issuance limits keep their events in {@code dir}. */
    private static IssuancePolicy withLimitsIn(Path dir, ConfigSnapshot snapshot) throws IOException {
        IssuanceLimits limits =
                new IssuanceLimits(new FileStorage(dir), Runnable::run, PublicSuffixList.bundled(), Clock.systemUTC());
        return new IssuancePolicy(() -> snapshot, null, limits, PublicSuffixList.bundled(), null);
    }
}
