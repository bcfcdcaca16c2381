package io.clicktls.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.clicktls.issuance.CertificateIssuer;
import io.clicktls.issuance.IssuanceException;
import io.clicktls.testing.TestPki;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IssuanceJournalTest {

    @TempDir
    Path dir;

    private TestPki pki;
    private IssuanceJournal journal;
    private CertificateIssuer issuer;

    @BeforeEach
    void setUp() throws Exception {
        pki = TestPki.create(dir, "links.shop.test");
        journal = new IssuanceJournal(pki.storage, pki.clock);
        issuer = journal.wrap(pki.issuer);
    }

    @AfterEach
    void tearDown() {
        pki.close();
    }

    @Test
    void failureIsRecordedWithTheCasWordsCountAndRetryTime() {
        Instant retry = pki.clock.instant().plus(Duration.ofHours(1));
        pki.issuer.failNext(new IssuanceException("rateLimited: too many certificates", null, retry));

        assertThatThrownBy(() -> issuer.issue("links.shop.test")).isInstanceOf(IssuanceException.class);
        pki.issuer.failNext(new IssuanceException("connection: refused"));
        assertThatThrownBy(() -> issuer.issue("links.shop.test")).isInstanceOf(IssuanceException.class);

        IssuanceFailure failure = journal.lastFailure("links.shop.test").orElseThrow();
        assertThat(failure.message()).isEqualTo("connection: refused");
        assertThat(failure.failures()).isEqualTo(2);
        assertThat(failure.at()).isEqualTo(pki.clock.instant());
        assertThat(journal.failedNames()).containsExactly("links.shop.test");
        assertThat(journal.failingCount()).isEqualTo(1);
    }

    @Test
    void failureSurvivesARestartThroughStorageAndASuccessClearsIt() throws Exception {
        pki.issuer.failNext(new IssuanceException("caa: CAA record forbids issuance", null,
                Instant.parse("2030-01-01T00:00:00Z")));
        assertThatThrownBy(() -> issuer.issue("links.shop.test")).isInstanceOf(IssuanceException.class);

        IssuanceJournal restarted = new IssuanceJournal(pki.storage, pki.clock);
        restarted.load();
        assertThat(restarted.lastFailure("links.shop.test").orElseThrow().retryAt())
                .isEqualTo(Instant.parse("2030-01-01T00:00:00Z"));
        assertThat(IssuanceJournal.stored(pki.storage, "links.shop.test")).isPresent();

        restarted.wrap(pki.issuer).issue("links.shop.test");

        assertThat(restarted.lastFailure("links.shop.test")).isEmpty();
        assertThat(IssuanceJournal.stored(pki.storage, "links.shop.test")).isEmpty();
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
        Instant deadline = Instant.now().plusSeconds(2);
        while (!journal.issuing("links.shop.test") && Instant.now().isBefore(deadline)) {
            Thread.sleep(5);
        }

        assertThat(journal.issuing("links.shop.test")).isTrue();
        running.get(5, TimeUnit.SECONDS);
        assertThat(journal.issuing("links.shop.test")).isFalse();
    }

    @Test
    void clearForgetsTheFailureEverywhere() throws Exception {
        pki.issuer.failNext(new IssuanceException("boom"));
        assertThatThrownBy(() -> issuer.issue("links.shop.test")).isInstanceOf(IssuanceException.class);

        journal.clear("links.shop.test");

        assertThat(journal.lastFailure("links.shop.test")).isEmpty();
        assertThat(IssuanceJournal.stored(pki.storage, "links.shop.test")).isEmpty();
    }
}
