package io.clicktls.storage.postgres;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.storage.SessionTicketSecret;
import io.clicktls.storage.Storage;
import io.clicktls.testing.PostgresServer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link PostgresStorage#update}: one read-modify-write for every node, including of a key not stored yet. */
class PostgresUpdateIT {

    @TempDir
    static Path data;

    private static PostgresServer server;

    @BeforeAll
    static void startServer() throws Exception {
        server = PostgresServer.start(data.resolve("pg"));
    }

    @AfterAll
    static void stopServer() throws Exception {
        server.close();
    }

    @Test
    void concurrentUpdatesFromTwoNodesOfAKeyNotYetStoredLoseNothing() throws Exception {
        PostgresSettings settings = server.freshSettings();
        try (PostgresStorage a = PostgresStorage.open(settings);
                PostgresStorage b = PostgresStorage.open(settings)) {
            Storage[] nodes = {a, b};
            ExecutorService threads = Executors.newFixedThreadPool(8);
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                Storage node = nodes[t % 2];
                done.add(threads.submit(() -> {
                    for (int i = 0; i < 25; i++) {
                        node.update("limits/orders", current -> increment(current.orElse(null)));
                    }
                    return null;
                }));
            }
            for (Future<?> future : done) {
                future.get();
            }
            threads.shutdown();

            assertThat(new String(a.load("limits/orders").orElseThrow(), UTF_8)).isEqualTo("200");
            assertThat(b.update("limits/orders", current -> null)).get().isEqualTo("200".getBytes(UTF_8));
        }
    }

    @Test
    void twoNodesStartingTogetherGetTheSameSessionTicketSecretEncryptedAtRest() throws Exception {
        Path keyFile = data.resolve("storage.key");
        java.nio.file.Files.writeString(keyFile, java.util.Base64.getEncoder().encodeToString(new byte[32]));
        PostgresSettings settings = server.freshSettings().withEncryptionKeyFile(keyFile);
        try (PostgresStorage a = PostgresStorage.open(settings);
                PostgresStorage b = PostgresStorage.open(settings)) {
            ExecutorService threads = Executors.newFixedThreadPool(2);
            Future<byte[]> onA = threads.submit(() -> SessionTicketSecret.loadOrCreate(a));
            Future<byte[]> onB = threads.submit(() -> SessionTicketSecret.loadOrCreate(b));

            assertThat(onA.get()).isEqualTo(onB.get());
            threads.shutdown();
            try (var connection = server.connect();
                    var select = connection.prepareStatement(
                            "select value from " + settings.schema() + ".entry where key = ?")) {
                select.setString(1, "tls/session-ticket-key.pem");
                try (var row = select.executeQuery()) {
                    assertThat(row.next()).isTrue();
                    assertThat(new String(row.getBytes(1), UTF_8)).doesNotContain("SESSION TICKET SECRET");
                }
            }
        }
    }

    private static byte[] increment(byte[] current) {
        int value = current == null ? 0 : Integer.parseInt(new String(current, UTF_8));
        return String.valueOf(value + 1).getBytes(UTF_8);
    }
}
