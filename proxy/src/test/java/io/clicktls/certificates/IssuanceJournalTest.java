package io.clicktls.certificates;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.clicktls.testing.Eventually;
import io.clicktls.testing.InternalCaStack;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IssuanceJournalTest {

    @TempDir
    Path dir;

    private InternalCaStack pki;
    private IssuanceJournal journal;
    private CertificateIssuer issuer;

    @BeforeEach
    void setUp() throws Exception {
        pki = InternalCaStack.create(dir, "links.shop.test");
        journal = new IssuanceJournal();
        issuer = journal.wrap(pki.issuer);
    }

    @AfterEach
    void tearDown() {
        pki.close();
    }

    @Test
    void failedNameIsFailingUntilItsNextSuccess() throws Exception {
        pki.issuer.failNext(new IssuanceException("rateLimited: too many certificates"));

        assertThatThrownBy(() -> issuer.issue("links.shop.test")).isInstanceOf(IssuanceException.class);
        assertThat(journal.failingNames()).containsExactly("links.shop.test");
        assertThat(journal.failingCount()).isEqualTo(1);

        issuer.issue("links.shop.test");
        assertThat(journal.failingNames()).isEmpty();
    }

    @Test
    void failuresFromEarlierRunsAreSeededFromIssuanceFailuresStorage() throws Exception {
        pki.storage.store(IssuanceJournal.FAILURES_PREFIX + "old.shop.test.json", "{}".getBytes());
        pki.storage.store(IssuanceJournal.FAILURES_PREFIX + "other.shop.test.json", "{}".getBytes());

        journal.seedFailing(pki.storage);

        assertThat(journal.failingNames()).containsExactlyInAnyOrder("old.shop.test", "other.shop.test");
        journal.cleared("old.shop.test");
        assertThat(journal.failingNames()).containsExactly("other.shop.test");
    }

    @Test
    void seedingMatchesWhereIssuanceFailuresKeepsItsEntries() throws Exception {
        new io.clicktls.certificates.IssuanceFailures(pki.storage, pki.clock)
                .recordFailure("kept.shop.test", new IssuanceException("boom"));

        journal.seedFailing(pki.storage);

        assertThat(journal.failingNames()).containsExactly("kept.shop.test");
    }

    @Test
    void nameCountsAsIssuingWhileTheIssuerRuns() throws Exception {
        pki.issuer.delay(Duration.ofMillis(300));

        CompletableFuture<?> running = CompletableFuture.runAsync(() -> {
            try {
                issuer.issue("links.shop.test");
            } catch (IssuanceException e) {
                throw new IllegalStateException(e);
            }
        });
        Eventually.holds(
                Duration.ofSeconds(2),
                "the journal counts the name as issuing",
                () -> journal.issuing("links.shop.test"));

        assertThat(journal.issuing("links.shop.test")).isTrue();
        running.get(5, TimeUnit.SECONDS);
        assertThat(journal.issuing("links.shop.test")).isFalse();
    }
}
