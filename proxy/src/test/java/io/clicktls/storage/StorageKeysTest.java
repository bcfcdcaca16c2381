package io.clicktls.storage;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class StorageKeysTest {

    @ParameterizedTest
    @CsvSource({
        "certificates/a.test/key.pem, certificate, true",
        "ca/root-key.pem, ca, true",
        "acme/account-key.pem, acme_account, true",
        "certificates/a.test/chain.pem, certificate, false",
        "certificates/a.test/meta.json, certificate, false",
        "ca/root.pem, ca, false",
        "acme/account.json, acme_account, false",
        "challenges/tls-alpn-01/a.test, challenge, false",
        "challenges/http-01/abc, challenge, false",
        "state/issuance/a.test.json, issuance_state, false",
        "limits/orders, rate_limit, false",
        "limits/certificates/shop.test, rate_limit, false",
        "cleanup/a.test, cleanup, false",
        "something-new, other, false"
    })
    void everyKeyHasAKnownKindAndOnlyPrivateKeysAreSecrets(String key, String kind, boolean secret) {
        assertThat(StorageKeys.kind(key)).isEqualTo(kind);
        assertThat(StorageKeys.KINDS).contains(kind);
        assertThat(StorageKeys.isPrivateKey(key)).isEqualTo(secret);
    }

    @ParameterizedTest
    @CsvSource({"a.test, state/issuance/a.test.json", "under_score.test, state/issuance/under_score.test.json"})
    void issuanceStateKeysNameTheirHost(String name, String key) {
        assertThat(StorageKeys.issuanceState(name)).isEqualTo(key);
        assertThat(StorageKeys.issuanceStateName(key)).isEqualTo(name);
    }

    @ParameterizedTest
    @ValueSource(strings = {"state/issuance/a.test", "state/issuance/a/b.json", "cleanup/a.test.json"})
    void otherKeysNameNoIssuanceState(String key) {
        assertThat(StorageKeys.issuanceStateName(key)).isNull();
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "..", "a..b", ".hidden", "a/b", "../ca/root-key.pem", "UPPER.test"})
    void namesThatCouldLeaveTheirFolderAreNotSafe(String name) {
        assertThat(StorageKeys.isSafeName(name)).isFalse();
    }

    @ParameterizedTest
    @ValueSource(strings = {"a.test", "under_score.test", "-odd.test", "xn--caf-dma.test"})
    void hostNamesAndOlderEntriesAreSafe(String name) {
        assertThat(StorageKeys.isSafeName(name)).isTrue();
    }
}
