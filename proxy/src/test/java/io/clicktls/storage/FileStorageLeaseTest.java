package io.clicktls.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.clicktls.testing.MutableClock;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The file storage's leases: the contract PostgreSQL's leases keep too, for the processes of one host. */
class FileStorageLeaseTest {

    private static final String LEASE = "orders/links.shop.test";
    private static final Duration THIRTY_SECONDS = Duration.ofSeconds(30);

    @TempDir
    Path directory;

    private final MutableClock clock = new MutableClock(Instant.parse("2026-12-07T12:00:00Z"));

    /** A node's view of the shared folder (its own instance, as another process would have). */
    private FileStorage node() throws IOException {
        return new FileStorage(directory, clock);
    }

    private static Map<String, byte[]> value(String text) {
        return Map.of("certificates/links.shop.test/meta.json", text.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void theLeasesHeldNowUnderAPrefixAreListedByNameWithHolderAndTimesAtMostTheLimit() throws Exception {
        FileStorage nodeA = node();
        FileStorage nodeB = node();
        Instant taken = clock.instant();
        nodeA.tryLease("orders/b.shop.test", THIRTY_SECONDS).orElseThrow();
        nodeA.tryLease("orders/gone.shop.test", Duration.ofSeconds(5)).orElseThrow();
        nodeA.tryLease("orders/given-back.shop.test", THIRTY_SECONDS)
                .orElseThrow()
                .close();
        nodeA.tryLease("update/certificates/a.shop.test", THIRTY_SECONDS).orElseThrow();
        clock.advance(Duration.ofSeconds(10));
        Storage.Lease renewed =
                nodeA.tryLease("orders/a.shop.test", THIRTY_SECONDS).orElseThrow();
        clock.advance(Duration.ofSeconds(1));
        assertThat(renewed.renew(THIRTY_SECONDS)).isTrue();

        List<Storage.CurrentLease> listed = nodeB.currentLeases(StorageKeys.ORDER_LEASES, 100);

        assertThat(listed)
                .extracting(Storage.CurrentLease::name)
                .as("held now, under the prefix, by name: not the one run out, given back or of another prefix")
                .containsExactly("orders/a.shop.test", "orders/b.shop.test");
        String self = InetAddress.getLocalHost().getHostName() + " pid "
                + ProcessHandle.current().pid();
        assertThat(listed.get(0).holder())
                .as("taken at 12:00:10, renewed at 12:00:11 for 30 s")
                .isEqualTo(new Storage.LeaseHolder(self, taken.plusSeconds(10), taken.plusSeconds(41)));
        assertThat(listed.get(1).holder().since()).isEqualTo(taken);
        assertThat(nodeB.leaseHolder("orders/a.shop.test"))
                .contains(listed.get(0).holder());
        assertThat(nodeB.leaseHolder("orders/given-back.shop.test")).isEmpty();
        assertThat(nodeB.currentLeases(StorageKeys.ORDER_LEASES, 1))
                .extracting(Storage.CurrentLease::name)
                .containsExactly("orders/a.shop.test");
        assertThat(node().currentLeases("nothing/", 10)).isEmpty();
    }

    @Test
    void theListingReadsOnlyLeasesMarkedHeldAndDropsTheMarkOfOneRunOut() throws Exception {
        FileStorage nodeA = node();
        Path marks = directory.resolve(".locks/held");
        nodeA.tryLease("orders/given-back.shop.test", THIRTY_SECONDS)
                .orElseThrow()
                .close();
        nodeA.tryLease("orders/crashed.shop.test", Duration.ofSeconds(5)).orElseThrow();
        Storage.Lease older =
                nodeA.tryLease("orders/older.shop.test", THIRTY_SECONDS).orElseThrow();
        // as a lease taken by a version without marks: held, but not marked
        Files.delete(marks.resolve("orders_older.shop.test"));
        assertThat(marks.resolve("orders_given-back.shop.test")).doesNotExist();
        clock.advance(Duration.ofSeconds(6));

        assertThat(nodeA.currentLeases(StorageKeys.ORDER_LEASES, 10)).isEmpty();
        assertThat(marks.resolve("orders_crashed.shop.test"))
                .as("the mark of a lease that ran out")
                .doesNotExist();
        assertThat(older.renew(THIRTY_SECONDS)).isTrue();
        assertThat(nodeA.currentLeases(StorageKeys.ORDER_LEASES, 10))
                .extracting(Storage.CurrentLease::name)
                .as("marked again by its renewal")
                .containsExactly("orders/older.shop.test");
    }

    @Test
    void aFolderWithoutLeasesListsNone() throws Exception {
        assertThat(node().currentLeases(StorageKeys.ORDER_LEASES, 10)).isEmpty();
    }

    @Test
    void aHeldLeaseIsNotTakenUntilItRunsOutAndThenWithALargerToken() throws Exception {
        FileStorage nodeA = node();
        FileStorage nodeB = node();
        Storage.Lease first = nodeA.tryLease(LEASE, THIRTY_SECONDS).orElseThrow();

        assertThat(nodeB.tryLease(LEASE, THIRTY_SECONDS)).isEmpty();
        clock.advance(Duration.ofSeconds(31));
        Storage.Lease second = nodeB.tryLease(LEASE, THIRTY_SECONDS).orElseThrow();

        assertThat(second.token()).isGreaterThan(first.token());
        assertThat(first.renew(THIRTY_SECONDS)).isFalse();
        assertThat(second.renew(THIRTY_SECONDS)).isTrue();
    }

    @Test
    void aFencedWriteOfAHolderWhoseLeaseWasTakenOverWritesNothing() throws Exception {
        FileStorage nodeA = node();
        FileStorage nodeB = node();
        Storage.Lease paused = nodeA.tryLease(LEASE, THIRTY_SECONDS).orElseThrow();
        clock.advance(Duration.ofSeconds(31));
        Storage.Lease current = nodeB.tryLease(LEASE, THIRTY_SECONDS).orElseThrow();
        nodeB.writeFenced(current, value("newer"), List.of());

        assertThatThrownBy(() -> nodeA.writeFenced(paused, value("older"), List.of()))
                .isInstanceOfSatisfying(LeaseLostException.class, e -> {
                    assertThat(e.token()).isEqualTo(paused.token());
                    assertThat(e.currentToken()).isEqualTo(current.token());
                });
        assertThat(new String(
                        nodeA.load("certificates/links.shop.test/meta.json").orElseThrow(), StandardCharsets.UTF_8))
                .isEqualTo("newer");
    }

    @Test
    void aReleasedLeaseIsFreeAtOnceAndItsHolderCanNoLongerWriteUnderIt() throws Exception {
        FileStorage nodeA = node();
        FileStorage nodeB = node();
        Storage.Lease first = nodeA.tryLease(LEASE, THIRTY_SECONDS).orElseThrow();
        first.close();

        Storage.Lease next = nodeB.tryLease(LEASE, THIRTY_SECONDS).orElseThrow();

        assertThat(next.token()).isGreaterThan(first.token());
        assertThatThrownBy(() -> nodeA.writeFenced(first, value("late"), List.of()))
                .isInstanceOf(LeaseLostException.class);
        assertThat(nodeA.list("certificates/")).isEmpty();
        assertThat(nodeA.list("")).noneMatch(key -> key.contains("lease"));
    }

    @Test
    void theLeaseOfAProcessOfThisHostThatIsGoneIsFreeAtOnce() throws Exception {
        Process gone = new ProcessBuilder("true").start();
        assertThat(gone.waitFor()).isZero();
        long expiresAt = clock.millis() + THIRTY_SECONDS.toMillis();
        Files.createDirectories(directory.resolve(".locks"));
        Files.writeString(
                directory.resolve(".locks/orders_links.shop.test.lease"),
                "7 " + expiresAt + " " + gone.pid() + " "
                        + InetAddress.getLocalHost().getHostName() + "\n");

        Storage.Lease taken = node().tryLease(LEASE, THIRTY_SECONDS).orElseThrow();

        assertThat(taken.token()).isEqualTo(8);
    }

    @Test
    void theLeaseOfALiveProcessIsNotTakenBeforeItRunsOut() throws Exception {
        long expiresAt = clock.millis() + THIRTY_SECONDS.toMillis();
        Files.createDirectories(directory.resolve(".locks"));
        Files.writeString(
                directory.resolve(".locks/orders_links.shop.test.lease"),
                "7 " + expiresAt + " " + ProcessHandle.current().pid() + " "
                        + InetAddress.getLocalHost().getHostName() + "\n");

        assertThat(node().tryLease(LEASE, THIRTY_SECONDS)).isEmpty();
    }
}
