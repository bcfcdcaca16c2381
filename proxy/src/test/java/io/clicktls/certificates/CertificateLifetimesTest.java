package io.clicktls.certificates;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.clicktls.storage.CertificateStore;
import io.clicktls.testing.InMemoryStorage;
import io.clicktls.testing.MutableClock;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The smallest remaining fraction of a lifetime over the store's index, as the alert on it reads it. */
class CertificateLifetimesTest {

    private static final Instant NOW = Instant.parse("2026-12-07T12:00:00Z");

    private final InMemoryStorage storage = new InMemoryStorage();
    private final CertificateStore store = new CertificateStore(storage);
    private final MutableClock clock = new MutableClock(NOW);
    private final CertificateLifetimes lifetimes = new CertificateLifetimes(store, clock);

    @Test
    void aSixDayCertificateWithOneDayLeftIsLowerThanANinetyDayOneWithThirtyDaysLeft() throws Exception {
        // 30 of 90 days left is a third; 1 of 6 days is a sixth: only the fraction puts the short one first
        stored("long.example.com", NOW.minus(Duration.ofDays(60)), NOW.plus(Duration.ofDays(30)));
        stored("short.example.com", NOW.minus(Duration.ofDays(5)), NOW.plus(Duration.ofDays(1)));
        store.scanIndex();

        assertThat(lifetimes.smallestRemainingFraction()).isCloseTo(1.0 / 6, within(1e-9));
    }

    @Test
    void anExpiredCertificateCountsAsNothingLeftAndNoCertificatesAsNaN() throws Exception {
        assertThat(lifetimes.smallestRemainingFraction()).isNaN();

        stored("gone.example.com", NOW.minus(Duration.ofDays(90)), NOW.minus(Duration.ofDays(1)));
        clock.advance(CertificateLifetimes.REFRESH);
        store.scanIndex();

        assertThat(lifetimes.smallestRemainingFraction()).isZero();
    }

    @Test
    void theValueIsKeptForTheRefreshPeriodThenComputedAgain() throws Exception {
        stored("half.example.com", NOW.minus(Duration.ofDays(45)), NOW.plus(Duration.ofDays(45)));
        stored("tenth.example.com", NOW.minus(Duration.ofDays(81)), NOW.plus(Duration.ofDays(9)));
        store.scanIndex();
        assertThat(lifetimes.smallestRemainingFraction()).isCloseTo(0.1, within(1e-9));

        store.delete("tenth.example.com");
        clock.advance(CertificateLifetimes.REFRESH.minusSeconds(1));
        assertThat(lifetimes.smallestRemainingFraction())
                .as("a scrape within the refresh period")
                .isCloseTo(0.1, within(1e-9));
        clock.advance(Duration.ofSeconds(1));
        assertThat(lifetimes.smallestRemainingFraction()).isCloseTo(0.5, within(1e-4));
    }

    @Test
    void storedCertificatesAreCountedByIssuerAndStateWithIssuersNoLongerConfiguredAsOther() throws Exception {
        List<String> configured = List.of("letsencrypt", "zerossl");
        stored("a.example.com", "letsencrypt", NOW.minus(Duration.ofDays(1)), NOW.plus(Duration.ofDays(5)));
        stored("b.example.com", "letsencrypt", NOW.minus(Duration.ofDays(5)), NOW.plus(Duration.ofDays(1)));
        stored("c.example.com", "zerossl", NOW.minus(Duration.ofDays(90)), NOW.minus(Duration.ofDays(1)));
        stored("d.example.com", "retired-ca", NOW.minus(Duration.ofDays(10)), NOW.plus(Duration.ofDays(80)));
        stored("e.example.com", "letsencrypt", NOW.minus(Duration.ofDays(10)), NOW.plus(Duration.ofDays(80)));
        store.scanIndex();

        // a 6-day certificate with 1 day left is expiring (under a third), one with 5 days left is not
        assertThat(lifetimes.stored("letsencrypt", "valid", configured)).isEqualTo(2);
        assertThat(lifetimes.stored("letsencrypt", "expiring", configured)).isEqualTo(1);
        assertThat(lifetimes.stored("letsencrypt", "expired", configured)).isZero();
        assertThat(lifetimes.stored("zerossl", "expired", configured)).isEqualTo(1);
        assertThat(lifetimes.stored("zerossl", "valid", configured)).isZero();
        assertThat(lifetimes.stored(CertificateLifetimes.OTHER_ISSUER, "valid", configured))
                .isEqualTo(1);
    }

    private void stored(String name, Instant notBefore, Instant notAfter) {
        stored(name, "internal", notBefore, notAfter);
    }

    private void stored(String name, String issuer, Instant notBefore, Instant notAfter) {
        storage.store(
                "certificates/" + name + "/meta.json",
                ("{\"name\":\"" + name + "\",\"issuer\":\"" + issuer + "\",\"not_before\":\"" + notBefore
                                + "\",\"not_after\":\"" + notAfter + "\",\"serial\":\"1f\"}")
                        .getBytes(StandardCharsets.UTF_8));
    }
}
