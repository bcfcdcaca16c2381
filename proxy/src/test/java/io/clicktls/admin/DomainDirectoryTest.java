package io.clicktls.admin;

import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.certificates.IssuanceFailure;
import io.clicktls.config.ConfigSnapshot;
import io.clicktls.pki.CertifiedKey;
import io.clicktls.testing.InternalCaStack;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DomainDirectoryTest {

    @TempDir
    Path dir;

    private InternalCaStack pki;
    private FakeSource source;
    private DomainDirectory directory;

    /** A node's view with names in storage only, counted reads, failures and plans set by the test. */
    private final class FakeSource implements DomainStatusSource {
        final List<String> stored = new ArrayList<>();
        final Map<String, CertifiedKey> certificates = new ConcurrentHashMap<>();
        final Map<String, IssuanceFailure> failures = new ConcurrentHashMap<>();
        final AtomicInteger storageLists = new AtomicInteger();
        final AtomicInteger storageReads = new AtomicInteger();

        @Override
        public ConfigSnapshot config() {
            return pki.config.get();
        }

        @Override
        public Collection<String> namesInMemory() {
            return List.of();
        }

        @Override
        public Collection<String> storedNames() {
            storageLists.incrementAndGet();
            return List.copyOf(stored);
        }

        @Override
        public Optional<CertifiedKey> inMemory(String name) {
            return Optional.empty();
        }

        @Override
        public Optional<CertifiedKey> stored(String name) {
            storageReads.incrementAndGet();
            return Optional.ofNullable(certificates.get(name));
        }

        @Override
        public boolean issuing(String name) {
            return false;
        }

        @Override
        public Collection<String> failedNames() {
            return List.copyOf(failures.keySet());
        }

        @Override
        public Optional<IssuanceFailure> lastFailure(String name) {
            return Optional.ofNullable(failures.get(name));
        }

        @Override
        public Optional<Instant> nextRenewal(String name) {
            return Optional.empty();
        }

        @Override
        public CaPolicy caPolicy() {
            return CaPolicy.INTERNAL;
        }

        @Override
        public CompletableFuture<?> renew(String name) {
            return CompletableFuture.completedFuture(null);
        }

        @Override
        public boolean forget(String name) throws IOException {
            return false;
        }
    }

    @BeforeEach
    void setUp() throws Exception {
        pki = InternalCaStack.create(dir, "links.shop.test", "*.mail.test");
        source = new FakeSource();
        directory = new DomainDirectory(source, pki.clock);
    }

    @AfterEach
    void tearDown() {
        pki.close();
    }

    @Test
    void tenThousandStoredNamesArePagedReadingOnlyThePageFromStorage() {
        for (int i = 0; i < 10_000; i++) {
            source.stored.add(String.format("n%05d.mail.test", i));
        }

        DomainDirectory.Page page = directory.page("", 3, 100);

        assertThat(page.total()).isEqualTo(10_002);
        assertThat(page.pages()).isEqualTo(101);
        assertThat(page.domains()).hasSize(100);
        assertThat(page.domains().get(0).name()).isEqualTo("n00198.mail.test");
        assertThat(source.storageReads.get()).isEqualTo(100);
    }

    @Test
    void searchMatchesSubstringsOfNamesAndPlatformsIgnoringCase() {
        source.stored.addAll(List.of("a.mail.test", "b.mail.test", "c.other.test"));

        assertThat(directory.page("MAIL", 1, 50).domains())
                .extracting(DomainStatus::name)
                .containsExactly("*.mail.test", "a.mail.test", "b.mail.test");
        assertThat(directory.page("stand-in", 1, 50).total())
                .as("by platform: the configured entries")
                .isEqualTo(2);
    }

    @Test
    void storedNamesListIsReusedBrieflyAndReadAgainAfterAnAction() {
        directory.page("", 1, 10);
        directory.page("", 2, 10);
        assertThat(source.storageLists.get()).isEqualTo(1);

        directory.invalidate();
        directory.page("", 1, 10);

        assertThat(source.storageLists.get()).isEqualTo(2);
    }

    @Test
    void rowsCarryPlatformStateCertificateAndFailure() throws Exception {
        CertifiedKey certified = pki.internalIssuer.issue("links.shop.test");
        source.certificates.put("links.shop.test", certified);
        source.failures.put(
                "gone.example.test", new IssuanceFailure("connection refused", pki.clock.instant(), 1, null));

        DomainDirectory.Page page = directory.page("", 1, 50);

        assertThat(page.failing()).isEqualTo(1);
        assertThat(page.domains())
                .extracting(DomainStatus::name)
                .containsExactly("*.mail.test", "gone.example.test", "links.shop.test");
        DomainStatus pattern = page.domains().get(0);
        assertThat(pattern.pattern()).isTrue();
        DomainStatus gone = page.domains().get(1);
        assertThat(gone.configured()).isFalse();
        assertThat(gone.state()).isEqualTo(CertificateState.FAILED);
        DomainStatus links = page.domains().get(2);
        assertThat(links.platform()).isEqualTo("stand-in");
        assertThat(links.state()).isEqualTo(CertificateState.VALID);
        assertThat(links.certificate().notAfter()).isEqualTo(certified.notAfter());
        assertThat(links.certificate().inMemory()).isFalse();
        assertThat(links.nextRenewal())
                .as("estimated: a third of the lifetime before expiry")
                .isNotNull();
        assertThat(links.renewalPlanned()).isFalse();
    }

    @Test
    void oneNameIsFoundWhenConfiguredOrKnownOnly() {
        assertThat(directory.one("LINKS.shop.test.")).map(DomainStatus::name).contains("links.shop.test");
        assertThat(directory.one("x.mail.test")).map(DomainStatus::platform).contains("stand-in");
        assertThat(directory.one("unknown.example.test")).isEmpty();
    }
}
