package io.clicktls.cli;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.storage.StorageKeys;
import io.clicktls.testing.ForwardingStorage;
import io.clicktls.testing.InMemoryStorage;
import io.clicktls.testing.MutableClock;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class StorageCopyTest {

    private final MutableClock clock = new MutableClock(Instant.parse("2026-12-07T12:00:00Z"));
    private final InMemoryStorage source = new InMemoryStorage();
    private final InMemoryStorage target = new InMemoryStorage();
    private final List<String> progress = Collections.synchronizedList(new ArrayList<>());

    @Test
    void copiesEveryKeyButChallengesInFlightAndASecondRunCopiesNothing() throws Exception {
        fill(source, 20);
        source.store(StorageKeys.http01Challenge("token-1"), bytes("key authorization"));
        source.store(StorageKeys.tlsAlpn01Challenge("n1.shop.test"), bytes("challenge certificate"));

        StorageCopy.Summary first = copy(source, target);

        List<String> copied = source.list("").stream()
                .filter(key -> !key.startsWith("challenges/"))
                .sorted()
                .toList();
        assertThat(copied).hasSize(20 * 3 + 4);
        assertThat(target.list("").stream().sorted().toList()).isEqualTo(copied);
        for (String key : copied) {
            assertThat(target.load(key)).as(key).hasValueSatisfying(value -> assertThat(value)
                    .isEqualTo(source.load(key).orElseThrow()));
        }
        assertThat(first.copied()).isEqualTo(copied.size());
        assertThat(first.unchanged()).isZero();
        assertThat(first.skipped()).isEqualTo(2);
        assertThat(first.failures()).isEmpty();
        assertThat(first.bytes())
                .isEqualTo(copied.stream()
                        .mapToLong(key -> target.load(key).orElseThrow().length)
                        .sum());

        StorageCopy.Summary second = copy(source, target);

        assertThat(second.copied()).isZero();
        assertThat(second.unchanged()).isEqualTo(copied.size());
        assertThat(copied)
                .allSatisfy(key -> assertThat(target.writes(key)).as(key).isEqualTo(1));
    }

    @Test
    void aValueThatDiffersInTheTargetIsReplacedAndOnlyThatOne() throws Exception {
        fill(source, 3);
        copy(source, target);
        String changed = StorageKeys.cleanup("n1.shop.test");
        source.store(changed, bytes("2026-12-05T00:00:00Z"));

        StorageCopy.Summary again = copy(source, target);

        assertThat(again.copied()).isEqualTo(1);
        assertThat(again.unchanged()).isEqualTo(3 * 3 + 4 - 1);
        assertThat(target.load(changed))
                .hasValueSatisfying(value -> assertThat(value).isEqualTo(bytes("2026-12-05T00:00:00Z")));
        assertThat(target.writes(changed)).isEqualTo(2);
    }

    @Test
    void aCertificateEntryIsWrittenChainAndKeyFirstAndMetaLast() throws Exception {
        fill(source, 50);
        List<String> writes = Collections.synchronizedList(new ArrayList<>());
        ForwardingStorage recording = new ForwardingStorage(target) {
            @Override
            public void store(String key, byte[] value) throws IOException {
                writes.add(key);
                super.store(key, value);
            }
        };

        copy(source, recording);

        for (int i = 0; i < 50; i++) {
            String name = "n" + i + ".shop.test";
            int meta = writes.indexOf(StorageKeys.certificate(name, StorageKeys.META_FILE));
            assertThat(meta)
                    .as(name)
                    .isGreaterThan(writes.indexOf(StorageKeys.certificate(name, StorageKeys.CHAIN_FILE)))
                    .isGreaterThan(writes.indexOf(StorageKeys.certificate(name, StorageKeys.KEY_FILE)));
        }
    }

    @Test
    void aKeyTheTargetRefusesIsAFailureNamingItAndTheRestIsCopied() throws Exception {
        fill(source, 5);
        String refused = StorageKeys.certificate("n2.shop.test", StorageKeys.KEY_FILE);
        ForwardingStorage refusing = new ForwardingStorage(target) {
            @Override
            public void store(String key, byte[] value) throws IOException {
                if (key.equals(refused)) {
                    throw new IOException("cannot store " + key + ": disk full");
                }
                super.store(key, value);
            }
        };

        StorageCopy.Summary summary = copy(source, refusing);

        assertThat(summary.failures())
                .containsExactly(new StorageCopy.Failure(refused, "cannot store " + refused + ": disk full"));
        assertThat(summary.copied()).isEqualTo(5 * 3 + 4 - 1);
        assertThat(target.load(refused)).isEmpty();
    }

    @Test
    void aKeyDeletedInTheSourceWhileCopyingIsCountedAsGoneNotFailed() throws Exception {
        fill(source, 2);
        String gone = StorageKeys.cleanup("n1.shop.test");
        ForwardingStorage deleting = new ForwardingStorage(source) {
            @Override
            public Optional<byte[]> load(String key) throws IOException {
                return key.equals(gone) ? Optional.empty() : super.load(key);
            }
        };

        StorageCopy.Summary summary = copy(deleting, target);

        assertThat(summary.vanished()).isEqualTo(1);
        assertThat(summary.failures()).isEmpty();
        assertThat(target.load(gone)).isEmpty();
    }

    @Test
    void aLongCopySaysHowFarItGotAtMostOnceASecondAndAShortOneNever() throws Exception {
        fill(source, 10);
        StorageCopy.Summary quick = copy(source, target);
        assertThat(quick.took()).isZero();
        assertThat(progress).isEmpty();

        // Each read takes 300 ms of the test's clock: 34 keys take 10.2 s. One worker, so the clock moves in order.
        ForwardingStorage slow = new ForwardingStorage(source) {
            @Override
            public Optional<byte[]> load(String key) throws IOException {
                clock.advance(Duration.ofMillis(300));
                return super.load(key);
            }
        };
        List<Long> printedAt = new ArrayList<>();
        StorageCopy.Summary summary = new StorageCopy(slow, new InMemoryStorage(), 1, clock, line -> {
                    progress.add(line);
                    printedAt.add(clock.millis());
                })
                .run();

        assertThat(summary.took()).isEqualTo(Duration.ofMillis(300 * 34));
        assertThat(progress).hasSizeBetween(5, 10);
        for (int i = 1; i < printedAt.size(); i++) {
            assertThat(printedAt.get(i) - printedAt.get(i - 1))
                    .as("gap before line %d", i)
                    .isGreaterThanOrEqualTo(1000);
        }
        assertThat(progress.get(0)).isEqualTo("storage copy: 4 of 34 keys (11%): 4 copied, 0 unchanged, 0 failed");
        assertThat(progress.get(progress.size() - 1))
                .matches("storage copy: 3\\d of 34 keys \\(\\d+%\\): 3\\d copied, 0 unchanged, 0 failed");
    }

    @Test
    void groupsKeepACertificatesKeysTogetherWithMetaLastAndEveryOtherKeyAlone() {
        List<List<String>> groups = StorageCopy.groups(List.of(
                "certificates/a.test/meta.json",
                "limits/orders",
                "certificates/a.test/key.pem",
                "certificates/a.test/chain.pem",
                "state/issuance/a.test.json",
                "certificates/b.test/meta.json"));

        assertThat(groups)
                .containsExactly(
                        List.of(
                                "certificates/a.test/chain.pem",
                                "certificates/a.test/key.pem",
                                "certificates/a.test/meta.json"),
                        List.of("certificates/b.test/meta.json"),
                        List.of("limits/orders"),
                        List.of("state/issuance/a.test.json"));
    }

    private StorageCopy.Summary copy(io.clicktls.storage.Storage from, io.clicktls.storage.Storage to)
            throws Exception {
        return new StorageCopy(from, to, 3, clock, progress::add).run();
    }

    /** {@code names} certificate entries and one key of every other kind. */
    static void fill(InMemoryStorage storage, int names) {
        for (int i = 0; i < names; i++) {
            String name = "n" + i + ".shop.test";
            storage.store(StorageKeys.certificate(name, StorageKeys.CHAIN_FILE), bytes("chain of " + name));
            storage.store(StorageKeys.certificate(name, StorageKeys.KEY_FILE), bytes("key of " + name));
            storage.store(StorageKeys.certificate(name, StorageKeys.META_FILE), bytes("{\"name\":\"" + name + "\"}"));
        }
        storage.store(StorageKeys.CA_ROOT_KEY, bytes("root key"));
        storage.store(StorageKeys.ACCOUNT_KEY, bytes("account key"));
        storage.store(StorageKeys.LIMITS_ORDERS, bytes("[]"));
        storage.store(StorageKeys.cleanup("n1.shop.test"), bytes("2026-12-01T00:00:00Z"));
    }

    private static byte[] bytes(String text) {
        return text.getBytes(UTF_8);
    }
}
