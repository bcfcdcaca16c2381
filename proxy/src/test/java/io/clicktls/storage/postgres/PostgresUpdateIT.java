package io.clicktls.storage.postgres;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.storage.SessionTicketSecret;
import io.clicktls.storage.Storage;
import io.clicktls.storage.StorageKeys;
import io.clicktls.testing.ConcurrentCounter;
import io.clicktls.testing.SharedPostgres;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.Base64;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link PostgresStorage#update}: one read-modify-write for every node, including of a key not stored yet. */
class PostgresUpdateIT {

    @TempDir
    Path dir;

    @Test
    void concurrentUpdatesFromTwoNodesOfAKeyNotYetStoredLoseNothing() throws Exception {
        PostgresSettings settings = SharedPostgres.server().freshSettings();
        try (PostgresStorage a = PostgresStorage.open(settings);
                PostgresStorage b = PostgresStorage.open(settings)) {

            assertThat(ConcurrentCounter.incrementEverywhere(new Storage[] {a, b}, "limits/orders", 8, 25))
                    .isEqualTo(200);
            assertThat(b.update("limits/orders", current -> null)).get().isEqualTo("200".getBytes(UTF_8));
        }
    }

    @Test
    void twoNodesStartingTogetherGetTheSameSessionTicketSecretEncryptedAtRest() throws Exception {
        Path keyFile = Files.writeString(
                dir.resolve("storage.key"), Base64.getEncoder().encodeToString(new byte[32]));
        PostgresSettings settings = SharedPostgres.server().freshSettings().withEncryptionKeyFile(keyFile);
        try (PostgresStorage a = PostgresStorage.open(settings);
                PostgresStorage b = PostgresStorage.open(settings)) {
            CompletableFuture<byte[]> onA = CompletableFuture.supplyAsync(() -> secret(a));
            CompletableFuture<byte[]> onB = CompletableFuture.supplyAsync(() -> secret(b));

            assertThat(onA.get()).isEqualTo(onB.get());
            assertThat(new String(rawValue(settings, StorageKeys.SESSION_TICKET_SECRET), UTF_8))
                    .doesNotContain("SESSION TICKET SECRET");
        }
    }

    private static byte[] secret(Storage storage) {
        try {
            return SessionTicketSecret.loadOrCreate(storage);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** The value as the table holds it, read as an operator would with psql. */
    private static byte[] rawValue(PostgresSettings settings, String key) throws Exception {
        try (Connection connection = SharedPostgres.server().connect();
                PreparedStatement select = connection.prepareStatement(
                        "select value from " + settings.schema() + ".entry where key = ?")) {
            select.setString(1, key);
            try (ResultSet row = select.executeQuery()) {
                assertThat(row.next()).isTrue();
                return row.getBytes(1);
            }
        }
    }
}
