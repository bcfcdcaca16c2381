package io.clicktls.storage.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.clicktls.testing.PostgresServer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** Private keys in a real PostgreSQL: encrypted in the table, readable only with the key they were written with. */
class PostgresKeyEncryptionIT {

    @RegisterExtension
    static final PostgresServer.PerClass postgres = PostgresServer.perClass();

    @TempDir
    static Path keys;

    private static final String KEY = "certificates/a.test/key.pem";
    private static final byte[] PEM = ("-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n"
                    + "-----END PRIVATE KEY-----\n")
            .getBytes(StandardCharsets.UTF_8);

    private static Path keyFile(String name, int fill) throws IOException {
        byte[] key = new byte[32];
        java.util.Arrays.fill(key, (byte) fill);
        Path file = keys.resolve(name);
        Files.writeString(file, Base64.getEncoder().encodeToString(key));
        return file;
    }

    private static byte[] rawValue(PostgresSettings settings, String key) throws Exception {
        try (Connection connection = postgres.server().connect();
                PreparedStatement select = connection.prepareStatement(
                        "select value from " + settings.schema() + ".entry where key = ?")) {
            select.setString(1, key);
            try (ResultSet row = select.executeQuery()) {
                assertThat(row.next()).as("row for %s", key).isTrue();
                return row.getBytes(1);
            }
        }
    }

    @Test
    void privateKeysAreNotPlainTextInTheTableAndLoadBackDecrypted() throws Exception {
        PostgresSettings settings = postgres.freshSettings().withEncryptionKeyFile(keyFile("one.key", 1));
        PostgresStorage storage = postgres.open(settings);
        byte[] chain = "-----BEGIN CERTIFICATE-----\n".getBytes(StandardCharsets.UTF_8);

        storage.store(KEY, PEM);
        storage.store("certificates/a.test/chain.pem", chain);
        PostgresStorage.Lease lease =
                storage.tryLease("ca", Duration.ofMinutes(1)).orElseThrow();
        storage.storeFenced(lease, "ca/root-key.pem", PEM);

        for (String key : List.of(KEY, "ca/root-key.pem")) {
            String raw = new String(rawValue(settings, key), StandardCharsets.ISO_8859_1);
            assertThat(raw).as("stored %s", key).doesNotContain("PRIVATE KEY", "MIGHAgEA");
            assertThat(storage.load(key))
                    .hasValueSatisfying(value -> assertThat(value).isEqualTo(PEM));
        }
        assertThat(storage.loadAll(List.of(KEY, "certificates/a.test/chain.pem")))
                .as("read together, each decrypted as a load decrypts it")
                .containsOnlyKeys(KEY, "certificates/a.test/chain.pem")
                .hasEntrySatisfying(KEY, value -> assertThat(value).isEqualTo(PEM));
        // Certificates are public: they stay readable for operators.
        assertThat(rawValue(settings, "certificates/a.test/chain.pem")).isEqualTo(chain);
    }

    @Test
    void theWrongKeyOrNoKeyGivesAClearErrorThatLeaksNothing() throws Exception {
        PostgresSettings settings = postgres.freshSettings();
        postgres.open(settings.withEncryptionKeyFile(keyFile("right.key", 1))).store(KEY, PEM);

        PostgresStorage wrong = postgres.open(settings.withEncryptionKeyFile(keyFile("wrong.key", 2)));
        assertThatThrownBy(() -> wrong.load(KEY))
                .isInstanceOf(IOException.class)
                .hasMessage("PostgreSQL storage: cannot decrypt " + KEY
                        + ": storage.postgres.encryption_key_file is not the key it was written with, or the value"
                        + " was altered or moved from another key")
                .hasNoCause();
        PostgresStorage none = postgres.open(settings);
        assertThatThrownBy(() -> none.load(KEY))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("it is encrypted; set storage.postgres.encryption_key_file");
    }

    @Test
    void aValueCopiedToAnotherKeysRowDoesNotDecrypt() throws Exception {
        PostgresSettings settings = postgres.freshSettings().withEncryptionKeyFile(keyFile("one.key", 1));
        PostgresStorage storage = postgres.open(settings);
        storage.store(KEY, PEM);
        storage.store("certificates/b.test/key.pem", "other".getBytes(StandardCharsets.UTF_8));

        try (Connection connection = postgres.server().connect();
                PreparedStatement copy = connection.prepareStatement("update " + settings.schema()
                        + ".entry set value = (select value from " + settings.schema()
                        + ".entry where key = ?) where key = ?")) {
            copy.setString(1, KEY);
            copy.setString(2, "certificates/b.test/key.pem");
            assertThat(copy.executeUpdate()).isEqualTo(1);
        }

        assertThatThrownBy(() -> storage.load("certificates/b.test/key.pem"))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("cannot decrypt certificates/b.test/key.pem");
    }

    @Test
    void keysWrittenBeforeEncryptionWasConfiguredStillLoadAndAreEncryptedWhenRewritten() throws Exception {
        PostgresSettings settings = postgres.freshSettings();
        postgres.open(settings).store(KEY, PEM);

        PostgresStorage encrypted = postgres.open(settings.withEncryptionKeyFile(keyFile("later.key", 3)));
        assertThat(encrypted.load(KEY))
                .hasValueSatisfying(value -> assertThat(value).isEqualTo(PEM));
        encrypted.store(KEY, encrypted.load(KEY).orElseThrow());

        assertThat(new String(rawValue(settings, KEY), StandardCharsets.ISO_8859_1))
                .doesNotContain("PRIVATE KEY");
        assertThat(encrypted.load(KEY))
                .hasValueSatisfying(value -> assertThat(value).isEqualTo(PEM));
    }
}
