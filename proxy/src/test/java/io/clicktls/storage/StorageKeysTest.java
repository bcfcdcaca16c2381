package io.clicktls.storage;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class StorageKeysTest {

    @ParameterizedTest
    @CsvSource({
        "certificates/a.test/key.pem, true",
        "ca/root-key.pem, true",
        "acme/account-key.pem, true",
        "certificates/a.test/chain.pem, false",
        "certificates/a.test/meta.json, false",
        "ca/root.pem, false",
        "acme/account.json, false",
        "challenges/tls-alpn-01/a.test, false",
        "state/issuance/a.test.json, false"
    })
    void onlyPrivateKeysAreSecrets(String key, boolean secret) {
        assertThat(StorageKeys.isPrivateKey(key)).isEqualTo(secret);
    }

    @ParameterizedTest
    @CsvSource({
        "certificates/a.test/key.pem, certificate",
        "limits/orders, rate_limit",
        "limits/certificates/shop.test, rate_limit",
        "state/issuance/a.test.json, issuance_state",
        "cleanup/a.test, cleanup",
        "challenges/http-01/abc, challenge",
        "acme/account-key.pem, acme_account",
        "ca/root.pem, ca",
        "something-new, other"
    })
    void everyKeyHasAKnownKind(String key, String kind) {
        assertThat(StorageKeys.kind(key)).isEqualTo(kind);
        assertThat(StorageKeys.KINDS).contains(kind);
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
