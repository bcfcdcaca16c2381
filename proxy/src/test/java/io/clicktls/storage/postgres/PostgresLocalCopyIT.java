package io.clicktls.storage.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.clicktls.storage.CachedStorage;
import io.clicktls.storage.FileStorage;
import io.clicktls.storage.StorageUnavailableException;
import io.clicktls.testing.Eventually;
import io.clicktls.testing.PostgresServer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.util.Base64;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node's storage while PostgreSQL is down: started without it ({@link PostgresStorage#start}), it connects and
 * migrates once the server is back; and its local copy ({@link CachedStorage}) keeps private keys sealed as the
 * database does and serves them meanwhile. A server per test, since the tests stop it.
 */
class PostgresLocalCopyIT {

    private static final String KEY = "certificates/links.shop.test/key.pem";
    private static final String PEM = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n";

    @TempDir
    Path dir;

    @Test
    void aStorageStartedWhileTheDatabaseIsDownConnectsAndMigratesOnceItIsBack() throws Exception {
        try (PostgresServer server = PostgresServer.start(dir.resolve("pg"))) {
            PostgresSettings settings = server.freshSettings().withPoolSize(2);
            server.stop();
            startWithoutTheDatabase(server, settings);
        }
    }

    private static void startWithoutTheDatabase(PostgresServer server, PostgresSettings settings) throws Exception {
        long start = System.nanoTime();
        try (PostgresStorage storage = PostgresStorage.start(settings)) {
            assertThat(Duration.ofNanos(System.nanoTime() - start))
                    .as("the start waits one connection timeout at most")
                    .isLessThan(Duration.ofSeconds(8));
            assertThat(storage.outage()).hasValueSatisfying(why -> assertThat(why)
                    .startsWith("PostgreSQL at " + server.url() + " unreachable since ")
                    .contains("not connected since the node started"));
            assertThat(storage.unreachable()).isPresent();
            long failing = System.nanoTime();
            assertThatThrownBy(() -> storage.load(KEY))
                    .isInstanceOf(StorageUnavailableException.class)
                    .hasMessageStartingWith("PostgreSQL storage: cannot load " + KEY + ": database unreachable");
            assertThat(Duration.ofNanos(System.nanoTime() - failing))
                    .as("fails at once, without waiting for a connection")
                    .isLessThan(Duration.ofSeconds(1));

            server.restart();
            Duration took = Eventually.holds(
                    Duration.ofSeconds(30), "connected", () -> storage.outage().isEmpty());
            System.out.println("connected and migrated " + took.toMillis() + " ms after the database was back");

            storage.store(KEY, PEM.getBytes(StandardCharsets.UTF_8));
            assertThat(storage.load(KEY)).isPresent();
            assertThat(storage.unreachable()).isEmpty();
        }
    }

    @Test
    void theLocalCopySealsPrivateKeysAsTheDatabaseDoesAndServesThemWhileItIsDown() throws Exception {
        Path keyFile = dir.resolve("storage.key");
        byte[] aesKey = new byte[32];
        new SecureRandom().nextBytes(aesKey);
        Files.writeString(keyFile, Base64.getEncoder().encodeToString(aesKey));
        try (PostgresServer server = PostgresServer.start(dir.resolve("pg"))) {
            copyWhileTheDatabaseIsDown(
                    server, server.freshSettings().withPoolSize(2).withEncryptionKeyFile(keyFile));
        }
    }

    private void copyWhileTheDatabaseIsDown(PostgresServer server, PostgresSettings settings) throws Exception {
        try (PostgresStorage storage = PostgresStorage.open(settings)) {
            CachedStorage cached =
                    new CachedStorage(storage, new FileStorage(dir.resolve("copy")), storage.sealing(), Runnable::run);
            cached.store(KEY, PEM.getBytes(StandardCharsets.UTF_8));

            Path copied = dir.resolve("copy").resolve(KEY);
            byte[] atRest = Files.readAllBytes(copied);
            assertThat(new String(atRest, StandardCharsets.ISO_8859_1)).doesNotContain("PRIVATE KEY", "MIGHAgEA");
            assertThat(atRest[0]).as("the sealed format's version byte").isEqualTo(KeyEncryption.VERSION);
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(copied)))
                    .isEqualTo("rw-------");
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(copied.getParent())))
                    .isEqualTo("rwx------");

            server.stop();
            assertThat(cached.load(KEY))
                    .hasValueSatisfying(value -> assertThat(new String(value, StandardCharsets.UTF_8))
                            .isEqualTo(PEM));

            server.restart();
            try (Connection connection = server.connect();
                    PreparedStatement delete =
                            connection.prepareStatement("delete from " + settings.schema() + ".entry where key = ?")) {
                delete.setString(1, KEY);
                assertThat(delete.executeUpdate()).isEqualTo(1); // as another node's forget would
            }
            // while it is unreachable the copy answers, so wait for the database itself first
            Eventually.holds(Duration.ofSeconds(30), "the database answers", () -> storage.unreachable()
                    .isEmpty());
            Optional<byte[]> gone = cached.load(KEY);
            assertThat(gone).isEmpty();
            assertThat(copied).as("removed from the copy once read as deleted").doesNotExist();
        }
    }
}
