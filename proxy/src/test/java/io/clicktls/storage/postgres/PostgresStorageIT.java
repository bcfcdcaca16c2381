package io.clicktls.storage.postgres;

import static io.clicktls.testing.StoredText.bytes;
import static io.clicktls.testing.StoredText.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.clicktls.storage.LeaseLostException;
import io.clicktls.storage.Storage;
import io.clicktls.storage.StorageKeys;
import io.clicktls.testing.Eventually;
import io.clicktls.testing.PostgresServer;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** {@link PostgresStorage} against a real PostgreSQL: one server for the class, a schema of its own per test. */
@SuppressWarnings("try") // leases are held for their blocks, not used in them
class PostgresStorageIT {

    @RegisterExtension
    static final PostgresServer.PerClass postgres = PostgresServer.perClass();

    @Test
    void storedValuesLoadBackOverwriteAndDelete() throws Exception {
        PostgresStorage storage = postgres.open(postgres.freshSettings());

        storage.store("certificates/a.test/chain.pem", bytes("one"));
        storage.store("certificates/a.test/chain.pem", bytes("two"));

        assertThat(text(storage.load("certificates/a.test/chain.pem"))).isEqualTo("two");
        assertThat(storage.load("certificates/b.test/chain.pem")).isEmpty();
        assertThat(storage.delete("certificates/a.test/chain.pem")).isTrue();
        assertThat(storage.delete("certificates/a.test/chain.pem")).isFalse();
        assertThat(storage.load("certificates/a.test/chain.pem")).isEmpty();
    }

    @Test
    void severalKeysLoadInOneReadAndAbsentOnesAreLeftOut() throws Exception {
        PostgresStorage storage = postgres.open(postgres.freshSettings());
        storage.store("certificates/a.test/chain.pem", bytes("chain"));
        storage.store("certificates/a.test/meta.json", bytes("meta"));
        storage.store("certificates/b.test/chain.pem", bytes("another name's"));

        Map<String, byte[]> read = storage.loadAll(List.of(
                "certificates/a.test/chain.pem", "certificates/a.test/key.pem", "certificates/a.test/meta.json"));

        assertThat(read).containsOnlyKeys("certificates/a.test/chain.pem", "certificates/a.test/meta.json");
        assertThat(text(Optional.of(read.get("certificates/a.test/chain.pem")))).isEqualTo("chain");
        assertThat(storage.loadAll(List.of())).isEmpty();
        assertThatThrownBy(() -> storage.loadAll(List.of("certificates/../x")))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void everyWriteGetsALargerVersionAndTheDatabaseTime() throws Exception {
        PostgresSettings settings = postgres.freshSettings();
        PostgresStorage storage = postgres.open(settings);

        storage.store("state/a.test", bytes("1"));
        long first = version(settings, "state/a.test");
        storage.store("state/b.test", bytes("1"));
        storage.store("state/a.test", bytes("2"));

        assertThat(version(settings, "state/a.test")).isGreaterThan(version(settings, "state/b.test"));
        assertThat(version(settings, "state/b.test")).isGreaterThan(first);
    }

    private static long version(PostgresSettings settings, String key) throws Exception {
        try (Connection connection = postgres.server().connect();
                Statement statement = connection.createStatement();
                ResultSet row = statement.executeQuery("select version from " + settings.schema()
                        + ".entry where key = '" + key + "' and updated_at <= now()")) {
            assertThat(row.next()).as("row for %s", key).isTrue();
            return row.getLong(1);
        }
    }

    @Test
    void binaryValuesAndLargeValuesComeBackByteForByte() throws Exception {
        PostgresStorage storage = postgres.open(postgres.freshSettings());
        byte[] value = new byte[3 * 1024 * 1024];
        for (int i = 0; i < value.length; i++) {
            value[i] = (byte) (i * 31 + 7);
        }

        storage.store("journal/big", value);

        assertThat(storage.load("journal/big"))
                .hasValueSatisfying(loaded -> assertThat(loaded).isEqualTo(value));
    }

    @Test
    void listReturnsTheKeysUnderAPrefixAndTakesLikeWildcardsLiterally() throws Exception {
        PostgresStorage storage = postgres.open(postgres.freshSettings());
        for (String key : List.of(
                "certificates/a.test/chain.pem",
                "certificates/a.test/key.pem",
                "certificates/b_c.test/chain.pem",
                "certificates/bxc.test/chain.pem",
                "certificates/100%.test/chain.pem",
                "certificates/1000.test/chain.pem",
                "challenges/a.test")) {
            storage.store(key, bytes("x"));
        }

        assertThat(storage.list("certificates/a.test/"))
                .containsExactlyInAnyOrder("certificates/a.test/chain.pem", "certificates/a.test/key.pem");
        assertThat(storage.list("certificates/b_c")).containsExactly("certificates/b_c.test/chain.pem");
        assertThat(storage.list("certificates/100%")).containsExactly("certificates/100%.test/chain.pem");
        assertThat(storage.list("certificates/")).hasSize(6);
        assertThat(storage.list("nothing/")).isEmpty();
    }

    @Test
    void keysThatTheFileStorageWouldRefuseAreRefusedToo() throws Exception {
        PostgresStorage storage = postgres.open(postgres.freshSettings());

        for (String key : List.of("", "/abs", "a//b", "a/../b", "a/.hidden", "c:\\x")) {
            assertThatThrownBy(() -> storage.store(key, bytes("x")))
                    .as("key %s", key)
                    .isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void twoNodesRacingForTheSameLeasesEachGetExactlyOneToken() throws Exception {
        PostgresSettings settings = postgres.freshSettings();
        List<PostgresStorage> nodes = List.of(
                postgres.open(settings.withOwner("node-a")),
                postgres.open(settings.withOwner("node-b")),
                postgres.open(settings.withOwner("node-c")));
        int racers = 12;
        ExecutorService threads = Executors.newFixedThreadPool(racers);
        try {
            for (int round = 0; round < 20; round++) {
                String name = "orders/race-" + round + ".test";
                CountDownLatch start = new CountDownLatch(1);
                List<Future<Optional<PostgresStorage.Lease>>> attempts = new ArrayList<>();
                for (int i = 0; i < racers; i++) {
                    PostgresStorage node = nodes.get(i % nodes.size());
                    attempts.add(threads.submit(() -> {
                        start.await();
                        return node.tryLease(name, Duration.ofMinutes(1));
                    }));
                }
                start.countDown();
                List<Long> tokens = new ArrayList<>();
                for (Future<Optional<PostgresStorage.Lease>> attempt : attempts) {
                    attempt.get(30, TimeUnit.SECONDS).ifPresent(lease -> tokens.add(lease.token()));
                }
                assertThat(tokens).as("tokens for %s", name).hasSize(1);
            }
        } finally {
            threads.shutdownNow();
        }
    }

    @Test
    void anExpiredLeaseIsTakenOverWithALargerTokenAndTheOldHolderCannotRenew() throws Exception {
        PostgresSettings settings = postgres.freshSettings();
        PostgresStorage nodeA = postgres.open(settings.withOwner("node-a"));
        PostgresStorage nodeB = postgres.open(settings.withOwner("node-b"));

        PostgresStorage.Lease first =
                nodeA.tryLease("orders/a.test", Duration.ofMillis(300)).orElseThrow();
        assertThat(nodeB.tryLease("orders/a.test", Duration.ofMinutes(1))).isEmpty();

        PostgresStorage.Lease second =
                Eventually.value(Duration.ofSeconds(10), "node B takes over the expired lease", () -> nodeB.tryLease(
                                "orders/a.test", Duration.ofMinutes(1))
                        .orElse(null));

        assertThat(second.token()).isGreaterThan(first.token());
        assertThat(first.renew(Duration.ofMinutes(1))).isFalse();
        assertThat(second.renew(Duration.ofMinutes(2))).isTrue();
        assertThat(owner(settings, "orders/a.test")).isEqualTo("node-b");
    }

    @Test
    void everyNodeListsTheLeasesHeldNowUnderAPrefixByNameInOneQuery() throws Exception {
        PostgresSettings settings = postgres.freshSettings();
        PostgresStorage nodeA = postgres.open(settings.withOwner("node-a"));
        PostgresStorage nodeB = postgres.open(settings.withOwner("node-b"));
        nodeA.tryLease("orders/b.test", Duration.ofMinutes(1)).orElseThrow();
        nodeB.tryLease("orders/a.test", Duration.ofMinutes(1)).orElseThrow();
        nodeA.tryLease("orders/given-back.test", Duration.ofMinutes(1))
                .orElseThrow()
                .close();
        nodeA.tryLease("update/certificates/a.test", Duration.ofMinutes(1)).orElseThrow();
        nodeA.tryLease("orders/short.test", Duration.ofMillis(200)).orElseThrow();

        Eventually.holds(
                Duration.ofSeconds(10),
                "the lease that ran out is no longer listed",
                () -> nodeB.currentLeases(StorageKeys.ORDER_LEASES, 100).size() == 2);
        List<Storage.CurrentLease> listed = nodeB.currentLeases(StorageKeys.ORDER_LEASES, 100);

        assertThat(listed)
                .extracting(Storage.CurrentLease::name)
                .as("held now, under the prefix, by name")
                .containsExactly("orders/a.test", "orders/b.test");
        assertThat(listed).extracting(lease -> lease.holder().holder()).containsExactly("node-b", "node-a");
        assertThat(listed.get(1).holder())
                .as("what leaseHolder says of the same lease")
                .isEqualTo(nodeB.leaseHolder("orders/b.test").orElseThrow());
        assertThat(nodeA.currentLeases(StorageKeys.ORDER_LEASES, 1))
                .extracting(Storage.CurrentLease::name)
                .containsExactly("orders/a.test");
    }

    @Test
    void everyNodeSeesWhoHoldsALeaseUntilItRunsOutOrIsReleased() throws Exception {
        PostgresSettings settings = postgres.freshSettings();
        PostgresStorage nodeA = postgres.open(settings.withOwner("node-a"));
        PostgresStorage nodeB = postgres.open(settings.withOwner("node-b"));
        assertThat(nodeB.leaseHolder("orders/a.test")).isEmpty();

        PostgresStorage.Lease held =
                nodeA.tryLease("orders/a.test", Duration.ofMinutes(1)).orElseThrow();
        Storage.LeaseHolder seen = nodeB.leaseHolder("orders/a.test").orElseThrow();
        assertThat(seen.holder()).isEqualTo("node-a");
        assertThat(seen.until()).isAfter(seen.since().plusSeconds(50));
        assertThat(nodeB.leaseHolder("orders/b.test")).isEmpty();

        held.close();
        assertThat(nodeB.leaseHolder("orders/a.test")).isEmpty();
        nodeA.tryLease("orders/a.test", Duration.ofMillis(200)).orElseThrow();
        Eventually.holds(Duration.ofSeconds(10), "a lease that ran out is no longer shown", () -> nodeB.leaseHolder(
                        "orders/a.test")
                .isEmpty());
    }

    @Test
    void aRenewedLeaseIsNotTakenOver() throws Exception {
        PostgresSettings settings = postgres.freshSettings();
        PostgresStorage nodeA = postgres.open(settings.withOwner("node-a"));
        PostgresStorage nodeB = postgres.open(settings.withOwner("node-b"));

        PostgresStorage.Lease held =
                nodeA.tryLease("orders/a.test", Duration.ofMillis(300)).orElseThrow();
        assertThat(held.renew(Duration.ofMinutes(1))).isTrue();
        // Past the first term, by the database's clock.
        Eventually.holds(Duration.ofSeconds(10), "the first lease term has passed", () -> {
            try (Connection connection = postgres.server().connect();
                    Statement statement = connection.createStatement();
                    ResultSet row = statement.executeQuery("select now() > taken_at + interval '400 milliseconds' from "
                            + settings.schema() + ".lease where name = 'orders/a.test'")) {
                return row.next() && row.getBoolean(1);
            }
        });

        assertThat(nodeB.tryLease("orders/a.test", Duration.ofMinutes(1))).isEmpty();
    }

    private static String owner(PostgresSettings settings, String name) throws Exception {
        try (Connection connection = postgres.server().connect();
                Statement statement = connection.createStatement();
                ResultSet row = statement.executeQuery(
                        "select owner from " + settings.schema() + ".lease where name = '" + name + "'")) {
            return row.next() ? row.getString(1) : null;
        }
    }

    @Test
    void aHolderPausedPastItsLeaseCannotOverwriteTheNewerHoldersWrite() throws Exception {
        PostgresSettings settings = postgres.freshSettings();
        PostgresStorage nodeA = postgres.open(settings.withOwner("node-a"));
        PostgresStorage nodeB = postgres.open(settings.withOwner("node-b"));
        String key = "certificates/a.test/chain.pem";

        PostgresStorage.Lease paused =
                nodeA.tryLease("orders/a.test", Duration.ofMillis(300)).orElseThrow();
        // Node A is "stopped" here: it neither renews nor writes while its lease runs out.
        PostgresStorage.Lease newer =
                Eventually.value(Duration.ofSeconds(10), "node B takes over", () -> nodeB.tryLease(
                                "orders/a.test", Duration.ofMinutes(1))
                        .orElse(null));
        nodeB.storeFenced(newer, key, bytes("from B"));

        // Node A resumes and finishes its order.
        assertThatThrownBy(() -> nodeA.storeFenced(paused, key, bytes("from A")))
                .isInstanceOfSatisfying(LeaseLostException.class, e -> {
                    assertThat(e.token()).isEqualTo(paused.token());
                    assertThat(e.currentToken()).isEqualTo(newer.token());
                });
        assertThat(text(nodeA.load(key))).isEqualTo("from B");
    }

    @Test
    void aFencedWriteOfSeveralKeysLandsWholeOrNotAtAll() throws Exception {
        PostgresStorage storage = postgres.open(postgres.freshSettings());
        Map<String, byte[]> certificate = new LinkedHashMap<>();
        certificate.put("certificates/a.test/chain.pem", bytes("chain"));
        certificate.put("certificates/a.test/key.pem", bytes("key"));
        certificate.put("state/a.test", bytes("issued"));

        PostgresStorage.Lease lease =
                storage.tryLease("orders/a.test", Duration.ofMinutes(1)).orElseThrow();
        storage.storeFenced(lease, certificate);
        lease.close();

        assertThat(storage.list("")).containsExactlyInAnyOrderElementsOf(certificate.keySet());
        Map<String, byte[]> renewal = new LinkedHashMap<>();
        renewal.put("certificates/a.test/chain.pem", bytes("chain 2"));
        renewal.put("certificates/a.test/key.pem", bytes("key 2"));
        assertThatThrownBy(() -> storage.storeFenced(lease, renewal)).isInstanceOf(LeaseLostException.class);
        assertThat(text(storage.load("certificates/a.test/chain.pem"))).isEqualTo("chain");
        assertThat(text(storage.load("certificates/a.test/key.pem"))).isEqualTo("key");
    }

    @Test
    void aForgetUnderAStaleLeaseIsRefusedAndUnderTheCurrentOneDeletesWithTheWrites() throws Exception {
        PostgresSettings settings = postgres.freshSettings();
        PostgresStorage nodeA = postgres.open(settings.withOwner("node-a"));
        PostgresStorage nodeB = postgres.open(settings.withOwner("node-b"));
        nodeA.store("certificates/a.test/chain.pem", bytes("chain"));
        nodeA.store("certificates/a.test/key.pem", bytes("key"));

        PostgresStorage.Lease stale =
                nodeA.tryLease("orders/a.test", Duration.ofMillis(200)).orElseThrow();
        PostgresStorage.Lease current =
                Eventually.value(Duration.ofSeconds(10), "node B takes over", () -> nodeB.tryLease(
                                "orders/a.test", Duration.ofMinutes(1))
                        .orElse(null));
        List<String> certificate = List.of("certificates/a.test/chain.pem", "certificates/a.test/key.pem");

        assertThatThrownBy(() -> nodeA.writeFenced(stale, Map.of("state/a.test", bytes("forgotten")), certificate))
                .isInstanceOf(LeaseLostException.class);
        assertThat(nodeA.list("certificates/a.test/")).hasSize(2);
        assertThat(nodeA.load("state/a.test")).isEmpty();

        nodeB.writeFenced(current, Map.of("state/a.test", bytes("forgotten")), certificate);
        assertThat(nodeA.list("certificates/a.test/")).isEmpty();
        assertThat(text(nodeA.load("state/a.test"))).isEqualTo("forgotten");
    }

    @Test
    void closingALeaseThatWasTakenOverLeavesTheNewHoldersLeaseAlone() throws Exception {
        PostgresSettings settings = postgres.freshSettings();
        PostgresStorage nodeA = postgres.open(settings.withOwner("node-a"));
        PostgresStorage nodeB = postgres.open(settings.withOwner("node-b"));

        PostgresStorage.Lease old = nodeA.tryLease("ca", Duration.ofMillis(200)).orElseThrow();
        PostgresStorage.Lease current = Eventually.value(
                Duration.ofSeconds(10), "node B takes over", () -> nodeB.tryLease("ca", Duration.ofMinutes(1))
                        .orElse(null));
        old.close();

        assertThat(owner(settings, "ca")).isEqualTo("node-b");
        nodeB.storeFenced(current, "ca/root.pem", bytes("root"));
    }

    @Test
    void lockWaitsForTheHolderToRelease() throws Exception {
        PostgresSettings settings = postgres.freshSettings();
        PostgresStorage nodeA = postgres.open(settings.withOwner("node-a"));
        PostgresStorage nodeB = postgres.open(settings.withOwner("node-b"));
        AtomicBoolean released = new AtomicBoolean();
        ExecutorService thread = Executors.newSingleThreadExecutor();
        try {
            Future<Boolean> waiter;
            try (PostgresStorage.Lease held = nodeA.lock("ca", Duration.ofMinutes(1))) {
                waiter = thread.submit(() -> {
                    try (PostgresStorage.Lease next = nodeB.lock("ca", Duration.ofMinutes(1))) {
                        return released.get();
                    }
                });
                Thread.sleep(200); // the waiter must not get in meanwhile; checked by its answer below
                released.set(true);
            }
            assertThat(waiter.get(10, TimeUnit.SECONDS))
                    .as("lock taken only after release")
                    .isTrue();
        } finally {
            thread.shutdownNow();
        }
    }

    @Test
    void nodesStartingTogetherApplyEachMigrationOnce() throws Exception {
        PostgresSettings settings = postgres.freshSettings();
        int nodes = 4;
        ExecutorService threads = Executors.newFixedThreadPool(nodes);
        List<PostgresStorage> opened = new ArrayList<>();
        try {
            CountDownLatch start = new CountDownLatch(1);
            List<Future<PostgresStorage>> starts = new ArrayList<>();
            for (int i = 0; i < nodes; i++) {
                starts.add(threads.submit(() -> {
                    start.await();
                    return PostgresStorage.open(settings);
                }));
            }
            start.countDown();
            for (Future<PostgresStorage> started : starts) {
                opened.add(postgres.closeAfterTest(started.get(60, TimeUnit.SECONDS)));
            }
        } finally {
            threads.shutdownNow();
        }

        try (Connection connection = postgres.server().connect();
                Statement statement = connection.createStatement();
                ResultSet rows = statement.executeQuery("select version, count(*), bool_and(success) from "
                        + settings.schema() + ".flyway_schema_history where version is not null group by version")) {
            int versions = 0;
            while (rows.next()) {
                versions++;
                assertThat(rows.getInt(2))
                        .as("runs of migration %s", rows.getString(1))
                        .isEqualTo(1);
                assertThat(rows.getBoolean(3)).isTrue();
            }
            assertThat(versions).isGreaterThanOrEqualTo(1);
        }
        opened.get(0).store("state/a.test", bytes("x"));
        assertThat(text(opened.get(nodes - 1).load("state/a.test"))).isEqualTo("x");
    }
}
