package io.clicktls.admin;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.clicktls.certificates.IssuanceFailure;
import io.clicktls.config.Certificates;
import io.clicktls.config.ClickTlsConfig;
import io.clicktls.config.ConfigSnapshot;
import io.clicktls.config.OnDemand;
import io.clicktls.pki.CertifiedKey;
import io.clicktls.storage.Storage;
import io.clicktls.testing.InternalCaStack;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;
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
        final SortedMap<String, Storage.LeaseHolder> inFlight = new TreeMap<>();
        final AtomicInteger leaseReads = new AtomicInteger();
        volatile IOException listingFails;

        @Override
        public SortedMap<String, Storage.LeaseHolder> ordersInFlight(int limit) throws IOException {
            if (listingFails != null) {
                throw listingFails;
            }
            SortedMap<String, Storage.LeaseHolder> listed = new TreeMap<>();
            inFlight.entrySet().stream().limit(limit).forEach(order -> listed.put(order.getKey(), order.getValue()));
            return listed;
        }

        @Override
        public Optional<Storage.LeaseHolder> orderLease(String name) {
            leaseReads.incrementAndGet();
            return Optional.ofNullable(inFlight.get(name));
        }

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

    private Storage.LeaseHolder heldBy(String node) {
        Instant now = pki.clock.instant();
        return new Storage.LeaseHolder(node, now.minusSeconds(5), now.plusSeconds(25));
    }

    @Test
    void aNameUnderAWildcardInFlightOnAnotherNodeIsListedIssuingWithItsHolderFromOneListing() throws Exception {
        source.inFlight.put("new.mail.test", heldBy("node-a"));

        DomainDirectory.Page page = directory.page("", 1, 50);

        assertThat(page.domains())
                .extracting(DomainStatus::name)
                .containsExactly("*.mail.test", "links.shop.test", "new.mail.test");
        DomainStatus row = page.domains().get(2);
        assertThat(row.state()).isEqualTo(CertificateState.ISSUING);
        assertThat(row.lease()).isEqualTo(source.inFlight.get("new.mail.test"));
        assertThat(row.allowedBy()).isEqualTo(new AllowedBy(AllowedBy.Kind.WILDCARD, "*.mail.test"));
        assertThat(row.platform()).isEqualTo("stand-in");
        assertThat(page.domains().get(1).allowedBy()).isEqualTo(new AllowedBy(AllowedBy.Kind.EXACT, "links.shop.test"));
        assertThat(page.inFlight()).isEqualTo(new DomainDirectory.InFlight(1, true, null));
        assertThat(source.leaseReads.get())
                .as("every row's lease came from the one listing")
                .isZero();

        JsonNode json = StatusJson.MAPPER.readTree(StatusJson.page(page, pki.clock.instant()));
        assertThat(json.at("/orders_in_flight/count").asInt()).isEqualTo(1);
        assertThat(json.at("/domains/2/allowed_by/kind").asText()).isEqualTo("wildcard");
        assertThat(json.at("/domains/2/allowed_by/entry").asText()).isEqualTo("*.mail.test");
        assertThat(json.at("/domains/2/lease/node").asText()).isEqualTo("node-a");
        assertThat(StatusPage.render(page, "t", null, pki.clock.instant()))
                .contains("stand-in · under *.mail.test")
                .contains("ordering on node-a since");
    }

    @Test
    void namesInFlightAreSearchedByNameAndByHolderAndPaged() {
        source.inFlight.put("a.mail.test", heldBy("node-a"));
        source.inFlight.put("b.mail.test", heldBy("node-b"));
        source.inFlight.put("c.mail.test", heldBy("node-a"));

        assertThat(directory.page("node-a", 1, 50).domains())
                .extracting(DomainStatus::name)
                .containsExactly("a.mail.test", "c.mail.test");
        assertThat(directory.page("b.mail", 1, 50).domains())
                .extracting(DomainStatus::name)
                .containsExactly("b.mail.test");
        DomainDirectory.Page second = directory.page("mail", 2, 2);
        assertThat(second.total()).isEqualTo(4);
        assertThat(second.domains()).extracting(DomainStatus::name).containsExactly("b.mail.test", "c.mail.test");
        assertThat(directory.one("c.mail.test")).map(DomainStatus::state).contains(CertificateState.ISSUING);
    }

    @Test
    void aNameInFlightThatNoEntryMatchesSaysAskAllowsItWhenAskIsConfigured() {
        ClickTlsConfig base = pki.config.get().config();
        Certificates certificates = base.certificates();
        pki.config.replace(new ClickTlsConfig(
                base.listen(),
                base.storage(),
                new Certificates(
                        certificates.issuer(),
                        certificates.keyType(),
                        certificates.acme(),
                        new OnDemand(URI.create("http://127.0.0.1:9/ask"), Duration.ofSeconds(10))),
                base.platforms(),
                base.domains(),
                base.upgrade(),
                null));
        source.inFlight.put("click.customer.test", heldBy("node-a"));

        DomainStatus row = directory.page("customer", 1, 50).domains().get(0);

        assertThat(row.name()).isEqualTo("click.customer.test");
        assertThat(row.allowedBy()).isEqualTo(new AllowedBy(AllowedBy.Kind.ASK, null));
        assertThat(row.configured()).isFalse();
        assertThat(row.state()).isEqualTo(CertificateState.ISSUING);
    }

    @Test
    void whenTheStorageCannotListTheOrdersThePageListsTheRestAndSaysWhy() {
        source.listingFails = new IOException("PostgreSQL at localhost:5432 unreachable since 12:00");

        DomainDirectory.Page page = directory.page("", 1, 50);

        assertThat(page.total()).isEqualTo(2);
        assertThat(page.inFlight().unavailable()).contains("unreachable since 12:00");
        assertThat(source.leaseReads.get())
                .as("no row tries a storage that just failed")
                .isZero();
        assertThat(StatusPage.render(page, "t", null, pki.clock.instant()))
                .contains("Orders in flight on other nodes are not shown: PostgreSQL at localhost:5432");
        assertThat(StatusJson.page(page, pki.clock.instant())).contains("\"unavailable\" : \"PostgreSQL at");
    }

    @Test
    void beyondTheListingLimitRowsNotListedReadTheirOwnLease() {
        for (int i = 0; i < DomainDirectory.IN_FLIGHT_LISTED; i++) {
            source.inFlight.put(String.format("z%05d.mail.test", i), heldBy("node-a"));
        }

        DomainDirectory.Page page = directory.page("", 1, 50);

        assertThat(page.inFlight().complete()).isFalse();
        assertThat(source.leaseReads.get())
                .as("links.shop.test, the one name not in the listing")
                .isEqualTo(1);
    }

    @Test
    void anOrderThatEndedSinceTheLastPageListsTheStoredNamesAgain() {
        source.inFlight.put("new.mail.test", heldBy("node-a"));
        directory.page("", 1, 50);
        source.inFlight.clear();
        source.stored.add("new.mail.test");

        DomainDirectory.Page page = directory.page("", 1, 50);

        assertThat(source.storageLists.get()).isEqualTo(2);
        assertThat(page.domains()).extracting(DomainStatus::name).contains("new.mail.test");
    }

    @Test
    void oneNameIsFoundWhenConfiguredOrKnownOnly() {
        assertThat(directory.one("LINKS.shop.test.")).map(DomainStatus::name).contains("links.shop.test");
        assertThat(directory.one("x.mail.test")).map(DomainStatus::platform).contains("stand-in");
        assertThat(directory.one("unknown.example.test")).isEmpty();
    }
}
