package io.clicktls.certificates;

import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.config.Certificates.Limits;
import io.clicktls.storage.FileStorage;
import io.clicktls.testing.MutableClock;
import java.net.InetAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IssuanceLimitsTest {

    private static final Instant START = Instant.parse("2026-11-25T12:00:00Z");

    @TempDir
    Path dir;

    private final MutableClock clock = new MutableClock(START);
    private FileStorage storage;
    private IssuanceLimits limits;

    @BeforeEach
    void setUp() throws Exception {
        storage = new FileStorage(dir);
        limits = newLimits();
    }

    private IssuanceLimits newLimits() {
        return new IssuanceLimits(storage, Runnable::run, PublicSuffixList.bundled(), clock);
    }

    @Test
    void ordersBeyondTheGlobalLimitAreHeldUntilTheOldestLeavesTheThreeHourWindow() {
        Limits three = new Limits(3, 100, 100);
        for (int i = 0; i < 3; i++) {
            assertThat(limits.tryStartOrder("n" + i + ".shop.test", three)).isEmpty();
            limits.issued("n" + i + ".shop.test");
            clock.advance(Duration.ofMinutes(10));
        }

        IssuanceLimits.Hold hold = limits.tryStartOrder("n3.other.test", three).orElseThrow();

        assertThat(hold.limit()).isEqualTo(IssuanceLimits.ORDERS);
        assertThat(hold.retryAt()).isEqualTo(START.plus(Duration.ofHours(3)));
        assertThat(hold.explanation()).contains("3 orders in the last 3 hours");
        clock.set(START.plus(Duration.ofHours(3)).minusSeconds(1));
        assertThat(limits.tryStartOrder("n3.other.test", three)).isPresent();
        clock.set(START.plus(Duration.ofHours(3)).plusSeconds(1));
        assertThat(limits.tryStartOrder("n3.other.test", three)).isEmpty();
    }

    @Test
    void certificatesAreCountedPerRegisteredDomainForAWeek() {
        Limits two = new Limits(100, 2, 100);
        assertThat(limits.tryStartOrder("a.links.shop.co.uk", two)).isEmpty();
        limits.issued("a.links.shop.co.uk");
        clock.advance(Duration.ofDays(1));
        assertThat(limits.tryStartOrder("b.shop.co.uk", two)).isEmpty();
        limits.issued("b.shop.co.uk");

        IssuanceLimits.Hold hold = limits.tryStartOrder("c.shop.co.uk", two).orElseThrow();

        assertThat(hold.limit()).isEqualTo(IssuanceLimits.CERTIFICATES);
        assertThat(hold.explanation()).contains("shop.co.uk");
        assertThat(hold.retryAt()).isEqualTo(START.plus(Duration.ofDays(7)));
        assertThat(limits.tryStartOrder("c.other.co.uk", two))
                .as("another registered domain")
                .isEmpty();
        clock.set(START.plus(Duration.ofDays(7)).plusSeconds(1));
        assertThat(limits.tryStartOrder("c.shop.co.uk", two)).isEmpty();
    }

    @Test
    void ordersInFlightCountAgainstTheirRegisteredDomainUntilTheyEnd() {
        Limits one = new Limits(100, 1, 100);
        assertThat(limits.tryStartOrder("a.shop.test", one)).isEmpty();

        assertThat(limits.tryStartOrder("b.shop.test", one))
                .get()
                .extracting(IssuanceLimits.Hold::limit)
                .isEqualTo(IssuanceLimits.CERTIFICATES);

        limits.failed("a.shop.test");
        assertThat(limits.tryStartOrder("b.shop.test", one))
                .as("a failed order issued nothing")
                .isEmpty();
    }

    @Test
    void failedValidationsHoldTheNameForAnHourButNotItsNeighbours() {
        Limits two = new Limits(100, 100, 2);
        limits.tryStartOrder("a.shop.test", two);
        limits.failed("a.shop.test");
        clock.advance(Duration.ofMinutes(20));
        limits.tryStartOrder("a.shop.test", two);
        limits.failed("a.shop.test");

        IssuanceLimits.Hold hold = limits.tryStartOrder("a.shop.test", two).orElseThrow();

        assertThat(hold.limit()).isEqualTo(IssuanceLimits.FAILURES);
        assertThat(hold.retryAt()).isEqualTo(START.plus(Duration.ofHours(1)));
        assertThat(limits.tryStartOrder("b.shop.test", two)).isEmpty();
        assertThat(limits.hold("a.shop.test", two)).contains(hold);
        clock.set(START.plus(Duration.ofHours(1)).plusSeconds(1));
        assertThat(limits.hold("a.shop.test", two)).isEmpty();
    }

    @Test
    void aRestartKeepsTheWindows() throws Exception {
        Limits small = new Limits(2, 1, 1);
        limits.tryStartOrder("a.shop.test", small);
        limits.issued("a.shop.test");
        limits.tryStartOrder("b.other.test", small);
        limits.failed("b.other.test");

        IssuanceLimits restarted = newLimits();
        restarted.load();

        assertThat(restarted.hold("c.third.test", small))
                .get()
                .extracting(IssuanceLimits.Hold::limit)
                .isEqualTo(IssuanceLimits.ORDERS);
        Limits roomy = new Limits(100, 1, 1);
        assertThat(restarted.hold("c.shop.test", roomy))
                .get()
                .extracting(IssuanceLimits.Hold::limit)
                .isEqualTo(IssuanceLimits.CERTIFICATES);
        assertThat(restarted.hold("b.other.test", roomy))
                .get()
                .extracting(IssuanceLimits.Hold::limit)
                .isEqualTo(IssuanceLimits.FAILURES);
        assertThat(restarted.hold("c.other.test", roomy)).isEmpty();
    }

    @Test
    void expiredWindowsLeaveStorage() throws Exception {
        Limits limit = new Limits(100, 100, 100);
        limits.tryStartOrder("a.shop.test", limit);
        limits.failed("a.shop.test");
        assertThat(storage.list("limits/failures/")).containsExactly("limits/failures/a.shop.test");

        clock.advance(Duration.ofHours(2));
        limits.tryStartOrder("b.other.test", limit);

        assertThat(storage.list("limits/failures/")).isEmpty();
    }

    @Test
    void unplannedOrdersCountToo() {
        Limits one = new Limits(1, 100, 100);
        limits.recordUnplanned("renewed.shop.test", true);

        assertThat(limits.tryStartOrder("a.other.test", one)).isPresent();
    }

    @Test
    void aClientStartsOnlyItsShareOfARegisteredDomainsNewNamesForAWeek() throws Exception {
        Limits shareOfTwo = new Limits(100, 10, 100, 2);
        IssuanceLimits.Requester flooder = IssuanceLimits.Requester.client(InetAddress.getByName("192.0.2.7"));
        IssuanceLimits.Requester other = IssuanceLimits.Requester.client(InetAddress.getByName("192.0.2.8"));
        assertThat(limits.tryStartOrder("a.shop.test", shareOfTwo, flooder)).isEmpty();
        assertThat(limits.tryStartOrder("b.shop.test", shareOfTwo, flooder)).isEmpty();

        IssuanceLimits.Hold hold =
                limits.tryStartOrder("c.shop.test", shareOfTwo, flooder).orElseThrow();

        assertThat(hold.limit()).isEqualTo(IssuanceLimits.NEW_NAMES_PER_CLIENT);
        assertThat(hold.retryAt()).isEqualTo(START.plus(Duration.ofDays(7)));
        assertThat(hold.explanation()).contains("192.0.2.7", "shop.test");
        assertThat(limits.tryStartOrder("c.other.test", shareOfTwo, flooder))
                .as("another registered domain")
                .isEmpty();
        assertThat(limits.tryStartOrder("c.shop.test", shareOfTwo, other)).isEmpty();
        assertThat(limits.tryStartOrder("d.shop.test", shareOfTwo, IssuanceLimits.Requester.OPERATOR))
                .isEmpty();
        clock.advance(Duration.ofDays(7).plusSeconds(1));
        assertThat(limits.tryStartOrder("e.shop.test", shareOfTwo, flooder)).isEmpty();
    }

    @Test
    void aCancelledOrderGivesTheClientItsShareBack() throws Exception {
        Limits shareOfOne = new Limits(100, 10, 100, 1);
        IssuanceLimits.Requester client = IssuanceLimits.Requester.client(InetAddress.getByName("192.0.2.7"));
        assertThat(limits.tryStartOrder("a.shop.test", shareOfOne, client)).isEmpty();
        limits.cancelled("a.shop.test", client);

        assertThat(limits.tryStartOrder("b.shop.test", shareOfOne, client)).isEmpty();
    }

    @Test
    void theAddressesOfOneIpv6SlashSixtyFourShareOneBudget() throws Exception {
        Limits shareOfOne = new Limits(100, 10, 100, 1);
        IssuanceLimits.Requester first = IssuanceLimits.Requester.client(InetAddress.getByName("2001:db8:1:2:aaaa::1"));
        IssuanceLimits.Requester sameNetwork =
                IssuanceLimits.Requester.client(InetAddress.getByName("2001:db8:1:2:bbbb::2"));
        IssuanceLimits.Requester nextNetwork =
                IssuanceLimits.Requester.client(InetAddress.getByName("2001:db8:1:3::1"));
        assertThat(first.client()).isEqualTo("2001:db8:1:2::/64");
        assertThat(limits.tryStartOrder("a.shop.test", shareOfOne, first)).isEmpty();

        assertThat(limits.tryStartOrder("b.shop.test", shareOfOne, sameNetwork)).isPresent();
        assertThat(limits.tryStartOrder("b.shop.test", shareOfOne, nextNetwork)).isEmpty();
    }

    @Test
    void aRenewalIsHeldBackByNeitherNewNameBudgetButByTheNodesOrdersAndTheNamesFailures() {
        Limits tight = new Limits(3, 1, 1, 1);
        assertThat(limits.tryStartOrder("new.shop.test", tight)).isEmpty();
        limits.issued("new.shop.test");
        assertThat(limits.tryStartOrder("other.shop.test", tight)).isPresent();

        assertThat(limits.tryStartOrder("held.shop.test", tight, IssuanceLimits.Requester.RENEWAL))
                .isEmpty();
        limits.failed("held.shop.test");
        assertThat(limits.tryStartOrder("held.shop.test", tight, IssuanceLimits.Requester.RENEWAL))
                .map(IssuanceLimits.Hold::limit)
                .contains(IssuanceLimits.FAILURES);
        assertThat(limits.tryStartOrder("again.shop.test", tight, IssuanceLimits.Requester.RENEWAL))
                .isEmpty();
        assertThat(limits.tryStartOrder("more.shop.test", tight, IssuanceLimits.Requester.RENEWAL))
                .map(IssuanceLimits.Hold::limit)
                .contains(IssuanceLimits.ORDERS);
    }

    @Test
    void ordersPlacedThroughAnotherInstanceOnTheSameStorageCountHere() {
        IssuanceLimits otherNode = newLimits();
        Limits two = new Limits(2, 100, 100);
        assertThat(limits.tryStartOrder("a.shop.test", two)).isEmpty();
        assertThat(otherNode.tryStartOrder("b.other.test", two)).isEmpty();

        assertThat(limits.tryStartOrder("c.third.test", two).map(IssuanceLimits.Hold::limit))
                .contains(IssuanceLimits.ORDERS);
        assertThat(otherNode.tryStartOrder("d.fourth.test", two)).isPresent();
    }

    @Test
    void aWindowChangedByAnotherInstanceIsReadAgainOnReload() {
        IssuanceLimits otherNode = newLimits();
        Limits one = new Limits(100, 100, 1);
        otherNode.tryStartOrder("a.shop.test", one);
        otherNode.failed("a.shop.test");
        assertThat(limits.hold("a.shop.test", one)).as("not read yet").isEmpty();

        limits.reload("limits/failures/a.shop.test");

        assertThat(limits.hold("a.shop.test", one).map(IssuanceLimits.Hold::limit))
                .contains(IssuanceLimits.FAILURES);
    }
}
