package io.clicktls.storage.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.clicktls.testing.Eventually;
import io.clicktls.testing.PostgresServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * PostgreSQL going away under a running {@link PostgresStorage}: operations fail fast with a clear
 * {@link IOException}, and work again once the server is back, without a restart. A server of its own, since the
 * tests stop it.
 */
class PostgresOutageIT {

    @RegisterExtension
    static final PostgresServer.PerClass postgres = PostgresServer.perClass();

    @Test
    void operationsFailFastWhileTheDatabaseIsDownAndRecoverWhenItIsBack() throws Exception {
        PostgresSettings settings = postgres.freshSettings().withPoolSize(2);
        try (PostgresStorage storage = PostgresStorage.open(settings)) {
            storage.store("certificates/a.test/chain.pem", "chain".getBytes(StandardCharsets.UTF_8));

            assertThat(storage.unreachable()).isEmpty();
            postgres.server().stop();
            try {
                assertThat(storage.unreachable()).hasValueSatisfying(why -> assertThat(why)
                        .startsWith("PostgreSQL at " + postgres.server().url() + ": "));
                for (int attempt = 0; attempt < 3; attempt++) {
                    long start = System.nanoTime();
                    assertThatThrownBy(() -> storage.load("certificates/a.test/chain.pem"))
                            .isInstanceOf(IOException.class)
                            .hasMessageStartingWith("PostgreSQL storage: cannot load certificates/a.test/chain.pem: ")
                            .hasMessageContaining("database");
                    Duration took = Duration.ofNanos(System.nanoTime() - start);
                    // The pool's connection timeout is 2 s; a hang would take the socket timeout (30 s) or for ever.
                    assertThat(took).as("attempt %s failed after", attempt).isLessThan(Duration.ofSeconds(6));
                }
                assertThatThrownBy(() -> storage.tryLease("orders/a.test", Duration.ofSeconds(30)))
                        .isInstanceOf(IOException.class)
                        .hasMessageStartingWith("PostgreSQL storage: cannot take lease orders/a.test: ");
            } finally {
                postgres.server().restart();
            }

            byte[] loaded = Eventually.value(Duration.ofSeconds(20), "storage answers again", () -> {
                try {
                    return storage.load("certificates/a.test/chain.pem").orElseThrow();
                } catch (IOException stillDown) {
                    return null;
                }
            });
            assertThat(new String(loaded, StandardCharsets.UTF_8)).isEqualTo("chain");
            assertThat(storage.tryLease("orders/a.test", Duration.ofSeconds(30)))
                    .isPresent();
        }
    }

    @Test
    void anOperationWaitsForAPoolWhoseEveryConnectionIsBusyInsteadOfFailingAfterTheConnectTimeout() throws Exception {
        PostgresSettings settings = postgres.freshSettings().withPoolSize(2);
        try (PostgresStorage storage = PostgresStorage.open(settings)) {
            storage.store("limits/a", "1".getBytes(StandardCharsets.UTF_8));
            CountDownLatch holding = new CountDownLatch(2);
            // both connections, each held in an update's transaction for longer than the pool's 2 s wait
            List<CompletableFuture<Optional<byte[]>>> holders = new ArrayList<>();
            for (String key : List.of("limits/a", "limits/b")) {
                holders.add(CompletableFuture.supplyAsync(() -> {
                    try {
                        return storage.update(key, current -> {
                            holding.countDown();
                            try {
                                Thread.sleep(3_000);
                            } catch (InterruptedException e) {
                                Thread.currentThread().interrupt();
                            }
                            return "2".getBytes(StandardCharsets.UTF_8);
                        });
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                }));
            }
            assertThat(holding.await(10, TimeUnit.SECONDS)).isTrue();

            assertThat(storage.load("limits/a")).isPresent(); // waited for a connection: no "database busy" failure
            for (CompletableFuture<Optional<byte[]>> holder : holders) {
                assertThat(holder.get(10, TimeUnit.SECONDS)).isPresent();
            }
            assertThat(storage.unreachable()).isEmpty();
        }
    }

    @Test
    void openingStorageWithoutADatabaseFailsFastAndSaysWhere() throws Exception {
        int closedPort;
        try (ServerSocket socket = new ServerSocket(0)) {
            closedPort = socket.getLocalPort();
        }
        PostgresSettings settings = PostgresSettings.of(
                "jdbc:postgresql://127.0.0.1:" + closedPort + "/postgres", "postgres", "s3cret-password");
        long start = System.nanoTime();

        assertThatThrownBy(() -> PostgresStorage.open(settings))
                .isInstanceOf(IOException.class)
                .hasMessageStartingWith(
                        "PostgreSQL storage: cannot connect to jdbc:postgresql://127.0.0.1:" + closedPort)
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("s3cret-password"));
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
    }
}
