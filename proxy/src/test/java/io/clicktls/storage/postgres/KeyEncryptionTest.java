package io.clicktls.storage.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KeyEncryptionTest {

    @TempDir
    Path directory;

    private static final byte[] PEM = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49\n-----END PRIVATE KEY-----\n"
            .getBytes(StandardCharsets.UTF_8);

    private static KeyEncryption encryption(int fill) {
        byte[] key = new byte[32];
        java.util.Arrays.fill(key, (byte) fill);
        return new KeyEncryption(key);
    }

    @Test
    void sealedValuesOpenWithTheSameKeyUnderTheSameStorageKey() throws Exception {
        KeyEncryption encryption = encryption(1);

        byte[] sealed = encryption.seal("certificates/a.test/key.pem", PEM);

        assertThat(sealed[0]).isEqualTo(KeyEncryption.VERSION);
        assertThat(new String(sealed, StandardCharsets.ISO_8859_1)).doesNotContain("PRIVATE KEY", "MIGHAgEA");
        assertThat(encryption.open("certificates/a.test/key.pem", sealed)).isEqualTo(PEM);
    }

    @Test
    void everySealUsesAFreshNonce() {
        KeyEncryption encryption = encryption(1);

        assertThat(encryption.seal("ca/root-key.pem", PEM)).isNotEqualTo(encryption.seal("ca/root-key.pem", PEM));
    }

    @Test
    void aValueMovedToAnotherStorageKeyOrAlteredDoesNotOpen() {
        KeyEncryption encryption = encryption(1);
        byte[] sealed = encryption.seal("certificates/a.test/key.pem", PEM);

        assertThatThrownBy(() -> encryption.open("certificates/evil.test/key.pem", sealed))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("cannot decrypt certificates/evil.test/key.pem");
        sealed[sealed.length - 1] ^= 1;
        assertThatThrownBy(() -> encryption.open("certificates/a.test/key.pem", sealed))
                .isInstanceOf(IOException.class);
    }

    @Test
    void theWrongKeySaysSoWithoutQuotingAnything() {
        byte[] sealed = encryption(1).seal("acme/account-key.pem", PEM);

        assertThatThrownBy(() -> encryption(2).open("acme/account-key.pem", sealed))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("not the key it was written with")
                .hasNoCause()
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("PRIVATE", "MIGH"));
    }

    @Test
    void onlyPrivateKeysAreEncrypted() {
        assertThat(KeyEncryption.appliesTo("certificates/a.test/key.pem")).isTrue();
        assertThat(KeyEncryption.appliesTo("acme/account-key.pem")).isTrue();
        assertThat(KeyEncryption.appliesTo("ca/root-key.pem")).isTrue();
        assertThat(KeyEncryption.appliesTo("certificates/a.test/chain.pem")).isFalse();
        assertThat(KeyEncryption.appliesTo("ca/root.pem")).isFalse();
    }

    @Test
    void aKeyFileInBase64IsReadAndABadOneIsRefusedWithoutQuotingIt() throws Exception {
        Path good = directory.resolve("good.key");
        byte[] key = new byte[32];
        java.util.Arrays.fill(key, (byte) 7);
        Files.writeString(good, Base64.getEncoder().encodeToString(key) + "\n");
        Path bad = directory.resolve("bad.key");
        Files.writeString(bad, "hunter2-not-base64-secret\n");

        byte[] sealed = KeyEncryption.fromFile(good).seal("ca/root-key.pem", PEM);
        assertThat(encryption(7).open("ca/root-key.pem", sealed)).isEqualTo(PEM);
        assertThatThrownBy(() -> KeyEncryption.fromFile(bad))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("expected 32 bytes in base64")
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("hunter2"));
        assertThatThrownBy(() -> KeyEncryption.fromFile(directory.resolve("missing.key")))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("cannot read it");
    }
}
