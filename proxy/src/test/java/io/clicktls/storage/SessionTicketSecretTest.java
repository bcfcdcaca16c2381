package io.clicktls.storage;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SessionTicketSecretTest {

    @TempDir
    Path dir;

    @Test
    void theSecretIsMadeOnceAndReadBackByEveryInstanceSharingTheFolder() throws Exception {
        ExecutorService starts = Executors.newFixedThreadPool(4);
        List<Future<byte[]>> secrets = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            FileStorage node = new FileStorage(dir);
            secrets.add(starts.submit(() -> SessionTicketSecret.loadOrCreate(node)));
        }
        byte[] first = secrets.get(0).get();
        for (Future<byte[]> secret : secrets) {
            assertThat(secret.get()).isEqualTo(first);
        }
        starts.shutdown();

        assertThat(first).hasSize(SessionTicketSecret.BYTES);
        assertThat(SessionTicketSecret.load(new FileStorage(dir))).get().isEqualTo(first);
        assertThat(StorageKeys.isPrivateKey(StorageKeys.SESSION_TICKET_SECRET))
                .as("encrypted at rest like other private keys")
                .isTrue();
    }

    @Test
    void anUnreadableStoredSecretIsReplaced() throws Exception {
        FileStorage storage = new FileStorage(dir);
        storage.store(StorageKeys.SESSION_TICKET_SECRET, "not a secret".getBytes(StandardCharsets.US_ASCII));

        byte[] secret = SessionTicketSecret.loadOrCreate(storage);

        assertThat(SessionTicketSecret.load(storage)).get().isEqualTo(secret);
    }

    @Test
    void formatAndParseAgree() {
        byte[] secret = new byte[SessionTicketSecret.BYTES];
        secret[7] = 42;

        assertThat(SessionTicketSecret.parse(SessionTicketSecret.format(secret)))
                .get()
                .isEqualTo(secret);
        assertThat(SessionTicketSecret.parse(
                        "-----BEGIN CLICKTLS SESSION TICKET SECRET-----\nAAAA\n".getBytes(StandardCharsets.US_ASCII)))
                .isEmpty();
    }
}
