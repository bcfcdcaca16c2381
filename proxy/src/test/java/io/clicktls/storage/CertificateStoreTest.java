package io.clicktls.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.clicktls.pki.CertifiedKey;
import io.clicktls.testing.TestPki;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CertificateStoreTest {

    @TempDir
    Path directory;

    private TestPki pki;
    private CertificateStore store;

    @BeforeEach
    void setUp() throws Exception {
        pki = TestPki.create(directory, "a.test", "b.test");
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
    void namesListsEachStoredNameOnceAndDeleteRemovesIt() throws Exception {
        store.save(pki.internalIssuer.issue("a.test"));
        store.save(pki.internalIssuer.issue("b.test"));

        assertThat(store.names()).containsExactly("a.test", "b.test");
        assertThat(store.delete("a.test")).isTrue();
        assertThat(store.delete("a.test")).isFalse();
        assertThat(store.names()).containsExactly("b.test");
        assertThat(store.load("a.test")).isEmpty();
    }

    @Test
    void aCorruptChainIsTreatedAsAbsent() throws Exception {
        store.save(pki.internalIssuer.issue("a.test"));
        Files.writeString(directory.resolve("certificates/a.test/chain.pem"),
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");

        assertThat(store.load("a.test")).isEmpty();
    }

    @Test
    void filesFromTwoDifferentWritesAreTreatedAsAbsent() throws Exception {
        store.save(pki.internalIssuer.issue("a.test"));
        byte[] otherKey = pki.storage.load("certificates/a.test/key.pem").orElseThrow();
        store.save(pki.internalIssuer.issue("a.test"));
        // A crash after the key of a later write: the chain does not belong to this key any more.
        pki.storage.store("certificates/a.test/key.pem", otherKey);

        assertThat(store.load("a.test")).isEmpty();
    }

    @Test
    void anEntryMissingItsMetaOrWithBrokenMetaIsTreatedAsAbsent() throws Exception {
        store.save(pki.internalIssuer.issue("a.test"));
        pki.storage.store("certificates/a.test/meta.json", "{not json".getBytes(StandardCharsets.UTF_8));
        assertThat(store.load("a.test")).isEmpty();

        pki.storage.delete("certificates/a.test/meta.json");
        assertThat(store.load("a.test")).isEmpty();
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
}
