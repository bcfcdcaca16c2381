package io.clicktls.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.clicktls.pki.CertifiedKey;
import io.clicktls.testing.ForwardingStorage;
import io.clicktls.testing.InternalCaStack;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CertificateStoreTest {

    @TempDir
    Path directory;

    private InternalCaStack pki;
    private CertificateStore store;

    @BeforeEach
    void setUp() throws Exception {
        pki = InternalCaStack.create(directory, "a.test", "b.test");
        store = pki.store;
    }

    @AfterEach
    void tearDown() throws Exception {
        pki.close();
    }

    @Test
    void savedCertificatesLoadBackWithTheirKeyAndIssuer() throws Exception {
        CertifiedKey issued = pki.internalIssuer.issue("a.test");

        store.save(issued);
        CertifiedKey loaded = store.load("a.test").orElseThrow();

        assertThat(loaded.name()).isEqualTo("a.test");
        assertThat(loaded.chain()).containsExactlyElementsOf(issued.chain());
        assertThat(loaded.key().getEncoded()).isEqualTo(issued.key().getEncoded());
        assertThat(loaded.issuer()).isEqualTo("internal");
        assertThat(directory.resolve("certificates/a.test/chain.pem")).exists();
        assertThat(directory.resolve("certificates/a.test/key.pem")).exists();
        assertThat(Files.readString(directory.resolve("certificates/a.test/meta.json")))
                .contains("\"issuer\" : \"internal\"", "\"not_after\"", "\"issued_at\"");
    }

    @Test
    void aStoredCertificateIsOneReadOfTheBackendThroughTheLayersOfANodeOnPostgres() throws Exception {
        pki.store.save(pki.internalIssuer.issue("a.test"));
        List<String> reads = new ArrayList<>();
        Storage database = new ForwardingStorage(pki.store.storage()) {
            @Override
            public Optional<byte[]> load(String key) throws IOException {
                reads.add("load " + key);
                return super.load(key);
            }

            @Override
            public Map<String, byte[]> loadAll(List<String> keys) throws IOException {
                reads.add("loadAll " + keys.size());
                return pki.store.storage().loadAll(keys);
            }
        };
        ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
        try (RetryingStorage layers = new RetryingStorage(
                new CachedStorage(
                        new MeasuredStorage(database, (operation, nanos, failed) -> {}),
                        FileStorage.withoutSync(directory.resolve("copy")),
                        CachedStorage.Sealing.NONE,
                        Runnable::run),
                timer,
                Runnable::run,
                Clock.systemUTC(),
                kind -> {})) {

            assertThat(new CertificateStore(layers).load("a.test")).isPresent();
        } finally {
            timer.shutdownNow();
        }

        assertThat(reads).containsExactly("loadAll 3");
    }

    @Test
    void namesListsEachStoredNameOnceAndDeleteRemovesIt() throws Exception {
        saved("a.test");
        saved("b.test");

        assertThat(store.names()).containsExactly("a.test", "b.test");
        assertThat(store.delete("a.test")).isTrue();
        assertThat(store.delete("a.test")).isFalse();
        assertThat(store.names()).containsExactly("b.test");
        assertThat(store.load("a.test")).isEmpty();
    }

    @Test
    void aCorruptChainIsTreatedAsAbsent() throws Exception {
        saved("a.test");
        Files.writeString(
                directory.resolve("certificates/a.test/chain.pem"),
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");

        assertThat(store.load("a.test")).isEmpty();
    }

    @Test
    void filesFromTwoDifferentWritesAreTreatedAsAbsent() throws Exception {
        saved("a.test");
        byte[] otherKey = pki.storage.load("certificates/a.test/key.pem").orElseThrow();
        saved("a.test");
        // A crash after the key of a later write: the chain does not belong to this key any more.
        pki.storage.store("certificates/a.test/key.pem", otherKey);

        assertThat(store.load("a.test")).isEmpty();
    }

    @Test
    void anEntryMissingItsMetaOrWithBrokenMetaIsTreatedAsAbsent() throws Exception {
        saved("a.test");
        pki.storage.store("certificates/a.test/meta.json", "{not json".getBytes(StandardCharsets.UTF_8));
        assertThat(store.load("a.test")).isEmpty();

        pki.storage.delete("certificates/a.test/meta.json");
        assertThat(store.load("a.test")).isEmpty();
    }

    @Test
    void metaJsonCarriesTheValidityAndSerialTheIndexIsBuiltFrom() throws Exception {
        CertifiedKey issued = pki.internalIssuer.issue("a.test");

        store.save(issued);

        assertThat(Files.readString(directory.resolve("certificates/a.test/meta.json")))
                .contains("\"not_before\" : \"" + issued.notBefore() + "\"")
                .contains("\"serial\" : \"" + issued.leaf().getSerialNumber().toString(16) + "\"");
        assertThat(store.indexed("a.test")).contains(indexedByTheInternalCa(issued));
        store.delete("a.test");
        assertThat(store.indexed("a.test")).isEmpty();
    }

    @Test
    void theScanReadsOnlyMetaJsonForNewEntriesAndTheChainForEntriesFromEarlierVersions() throws Exception {
        CertifiedKey current = saved("a.test");
        CertifiedKey old = saved("b.test");
        CertificateStore.Meta written = new ObjectMapper()
                .readValue(
                        pki.storage.load("certificates/b.test/meta.json").orElseThrow(), CertificateStore.Meta.class);
        CertificateStore.Meta earlierVersion = new CertificateStore.Meta(
                written.name(),
                written.issuer(),
                written.issuedAt(),
                null,
                written.notAfter(),
                null,
                written.chainSha256(),
                written.keySha256());
        pki.storage.store("certificates/b.test/meta.json", new ObjectMapper().writeValueAsBytes(earlierVersion));
        // the chain of a new entry is not even read: garbage there does not keep it out of the index
        pki.storage.store("certificates/a.test/chain.pem", "not a chain".getBytes(StandardCharsets.UTF_8));
        pki.storage.store(
                "certificates/c.test/key.pem", "a crash before chain and meta".getBytes(StandardCharsets.UTF_8));

        CertificateStore restarted = new CertificateStore(pki.storage);
        assertThat(restarted.indexReady()).isFalse();
        CertificateStore.IndexScan scan = restarted.scanIndex();

        assertThat(restarted.indexReady()).isTrue();
        assertThat(scan.indexed()).isEqualTo(2);
        assertThat(scan.readFromChain()).isEqualTo(1);
        assertThat(restarted.indexed("a.test").orElseThrow().serial())
                .isEqualTo(current.leaf().getSerialNumber());
        assertThat(restarted.indexed("b.test")).contains(indexedByTheInternalCa(old));
        assertThat(restarted.indexed("c.test")).isEmpty();
    }

    @Test
    void scannedEntriesOfOneIssuerShareOneLabelAndKeepTheirExactValidity() throws Exception {
        CertifiedKey a = saved("a.test");
        CertifiedKey b = saved("b.test");

        CertificateStore restarted = new CertificateStore(pki.storage);
        restarted.scanIndex();

        StoredCertificate first = restarted.indexed("a.test").orElseThrow();
        StoredCertificate second = restarted.indexed("b.test").orElseThrow();
        // each meta.json parses to its own string; the index keeps one per issuer, not one per entry
        assertThat(second.issuer()).isSameAs(first.issuer()).isEqualTo("internal");
        assertThat(first).isEqualTo(indexedByTheInternalCa(a));
        assertThat(second.serial()).isEqualTo(b.leaf().getSerialNumber());
    }

    @Test
    void aDeleteWhileTheScanRunsIsNotUndoneByWhatTheScanReadBefore() throws Exception {
        saved("a.test");
        saved("b.test");
        AtomicReference<CertificateStore> scanning = new AtomicReference<>();
        Storage deletingMidScan = new ForwardingStorage(pki.storage) {
            @Override
            public Optional<byte[]> load(String key) throws IOException {
                Optional<byte[]> value = super.load(key);
                if (key.equals("certificates/a.test/meta.json") && scanning.get() != null) {
                    scanning.getAndSet(null).delete("a.test"); // the operator forgets it just after the scan read it
                }
                return value;
            }
        };
        CertificateStore restarted = new CertificateStore(deletingMidScan);
        scanning.set(restarted);

        restarted.scanIndex();

        assertThat(restarted.indexed("a.test")).isEmpty();
        assertThat(restarted.indexed("b.test")).isPresent();
        List<StoredCertificate> all = new ArrayList<>();
        restarted.forEachIndexed(all::add);
        assertThat(all).extracting(StoredCertificate::name).containsExactly("b.test");
    }

    @Test
    void twoThousandSyntheticEntriesAreIndexedFromTheirMetaAlone() throws Exception {
        int count = 2_000;
        Instant notBefore = Instant.parse("2026-11-01T00:00:00Z");
        for (int i = 0; i < count; i++) {
            Path folder = Files.createDirectories(directory.resolve("certificates/n" + i + ".test"));
            Files.writeString(
                    folder.resolve("meta.json"),
                    "{\"name\":\"n" + i + ".test\",\"issuer\":\"acme\","
                            + "\"not_before\":\"" + notBefore + "\",\"not_after\":\""
                            + notBefore.plus(Duration.ofDays(90))
                            + "\",\"serial\":\"" + Integer.toHexString(i + 1) + "\"}");
            Files.writeString(folder.resolve("chain.pem"), "never read");
            Files.writeString(folder.resolve("key.pem"), "never read");
        }

        List<String> reads = new ArrayList<>();
        Storage counted = new ForwardingStorage(pki.storage) {
            @Override
            public Optional<byte[]> load(String key) throws IOException {
                reads.add("load");
                return super.load(key);
            }

            @Override
            public Map<String, byte[]> loadAll(List<String> keys) throws IOException {
                reads.add("loadAll");
                return pki.storage.loadAll(keys);
            }
        };

        CertificateStore.IndexScan scan = new CertificateStore(counted).scanIndex();

        assertThat(reads)
                .as("meta.json files read %d at a time (one query each on PostgreSQL)", CertificateStore.SCAN_BATCH)
                .hasSize((count + CertificateStore.SCAN_BATCH - 1) / CertificateStore.SCAN_BATCH)
                .containsOnly("loadAll");
        System.out.printf(
                "index scan of %,d stored certificates: %d ms%n",
                count, scan.took().toMillis());
        assertThat(scan.indexed()).isEqualTo(count);
        assertThat(scan.readFromChain()).isZero();
    }

    @Test
    void namesThatAreNotHostNamesAreNeverStorageKeys() throws Exception {
        assertThat(store.load("../ca")).isEmpty();
        assertThat(store.load("a.test/../../ca")).isEmpty();
        assertThat(store.load("")).isEmpty();
        assertThat(store.delete("..")).isFalse();
        CertifiedKey issued = pki.internalIssuer.issue("a.test");
        CertifiedKey renamed = new CertifiedKey("../evil", issued.key(), issued.chain(), "internal");
        assertThatThrownBy(() -> store.save(renamed)).isInstanceOf(IllegalArgumentException.class);
    }

    /** A certificate of the internal CA for {@code name}, saved in the store. */
    private CertifiedKey saved(String name) throws Exception {
        CertifiedKey issued = pki.internalIssuer.issue(name);
        store.save(issued);
        return issued;
    }

    /** What the index holds for a certificate of the internal CA. */
    private static StoredCertificate indexedByTheInternalCa(CertifiedKey key) {
        return new StoredCertificate(
                key.name(),
                "internal",
                key.notBefore(),
                key.notAfter(),
                key.leaf().getSerialNumber());
    }
}
