package io.clicktls.storage.postgres;

import static io.clicktls.testing.StoredText.bytes;
import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.storage.LeaseLostException;
import io.clicktls.testing.Eventually;
import io.clicktls.testing.PostgresServer;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Other nodes hear of stored and deleted keys: by NOTIFY, and by a version sync after their connection dropped. */
class PostgresChangeFeedIT {

    @RegisterExtension
    static final PostgresServer.PerClass postgres = PostgresServer.perClass();

    /** A feed that syncs only when it reconnects, so a delivery while connected can only come from a NOTIFY. */
    private ChangeFeed feed(PostgresSettings settings, BlockingQueue<String> heard) throws Exception {
        ChangeFeed feed = ChangeFeed.start(settings, null, Duration.ofHours(1), Duration.ofSeconds(1));
        postgres.closeAfterTest(feed);
        feed.subscribe(heard::add);
        Eventually.holds(Duration.ofSeconds(10), "the feed listens", () -> feed.connects() == 1);
        return feed;
    }

    private static List<String> drain(BlockingQueue<String> heard, int count) throws Exception {
        List<String> keys = new ArrayList<>();
        Eventually.holds(Duration.ofSeconds(5), count + " keys heard", () -> {
            heard.drainTo(keys);
            return keys.size() >= count;
        });
        return keys;
    }

    @Test
    void writesAndDeletionsOnOneNodeAreHeardOnAnotherWithTheKeyOnly() throws Exception {
        PostgresSettings settings = postgres.freshSettings();
        PostgresStorage nodeA = postgres.open(settings.withOwner("node-a"));
        BlockingQueue<String> heard = new LinkedBlockingQueue<>();
        feed(settings, heard);

        nodeA.store("certificates/a.test/chain.pem", bytes("secret-ish value"));
        nodeA.delete("certificates/a.test/chain.pem");
        nodeA.delete("certificates/never.test/chain.pem"); // nothing deleted: nothing to hear
        PostgresStorage.Lease lease =
                nodeA.tryLease("orders/b.test", Duration.ofMinutes(1)).orElseThrow();
        nodeA.storeFenced(lease, "certificates/b.test/key.pem", bytes("key"));

        assertThat(drain(heard, 3))
                .containsExactly(
                        "certificates/a.test/chain.pem",
                        "certificates/a.test/chain.pem",
                        "certificates/b.test/key.pem");
    }

    @Test
    void aStoragesChangeListenerHearsWhatAnotherNodeWrites() throws Exception {
        PostgresSettings settings = postgres.freshSettings();
        PostgresStorage nodeA = postgres.open(settings.withOwner("node-a"));
        PostgresStorage nodeB = postgres.open(settings.withOwner("node-b"));
        BlockingQueue<String> heard = new LinkedBlockingQueue<>();

        try (AutoCloseable subscription = nodeB.onChange(heard::add)) {
            // The feed starts listening in the background: write until node B hears it.
            Eventually.holds(Duration.ofSeconds(10), "node B hears node A's write", () -> {
                nodeA.store("state/probe", bytes("x"));
                return heard.contains("state/probe");
            });
        }
    }

    @Test
    void aFeedStartedFromAPositionHearsWhatWasWrittenBeforeItFirstListened() throws Exception {
        PostgresSettings settings = postgres.freshSettings();
        PostgresStorage nodeA = postgres.open(settings.withOwner("node-a"));
        nodeA.store("certificates/before.test/chain.pem", bytes("x"));
        ChangeFeed.Position since;
        try (Connection connection = postgres.server().connect()) {
            since = ChangeFeed.current(connection, settings.schema());
        }
        nodeA.store("certificates/between.test/chain.pem", bytes("x")); // after the position, before the feed

        // The key written just before the position may come too: a sync takes again what is recent (late commits).
        heardFrom(settings, since, Duration.ofHours(1), "certificates/between.test/chain.pem");
    }

    /**
     * Starts a feed from {@code since} and waits until it has delivered {@code key}; returns what it delivered, a
     * list that goes on growing with what it delivers later.
     */
    private static List<String> heardFrom(
            PostgresSettings settings, ChangeFeed.Position since, Duration syncInterval, String key) throws Exception {
        List<String> keys = Collections.synchronizedList(new ArrayList<>());
        ChangeFeed feed = ChangeFeed.start(settings, since, syncInterval, Duration.ofSeconds(1));
        postgres.closeAfterTest(feed);
        feed.subscribe(keys::add);
        Eventually.holds(Duration.ofSeconds(10), key + " heard", () -> keys.contains(key));
        return keys;
    }

    @Test
    void aRefusedFencedWriteIsNotHeard() throws Exception {
        PostgresSettings settings = postgres.freshSettings();
        PostgresStorage nodeA = postgres.open(settings);
        BlockingQueue<String> heard = new LinkedBlockingQueue<>();
        feed(settings, heard);
        PostgresStorage.Lease lease =
                nodeA.tryLease("orders/a.test", Duration.ofMinutes(1)).orElseThrow();
        lease.close();

        try {
            nodeA.storeFenced(lease, "certificates/a.test/chain.pem", bytes("x"));
        } catch (LeaseLostException expected) {
            // refused, as it must be
        }
        nodeA.store("state/marker", bytes("x"));

        assertThat(drain(heard, 1)).containsExactly("state/marker");
    }

    @Test
    void aWriteThatCommitsAfterALaterVersionWasSyncedIsStillHeard() throws Exception {
        PostgresSettings settings = postgres.freshSettings();
        PostgresStorage nodeA = postgres.open(settings.withOwner("node-a"));
        BlockingQueue<String> heard = new LinkedBlockingQueue<>();
        // Notifications are left out of this write on purpose (as if the feed was away): only a sync can find it.
        ChangeFeed feed = ChangeFeed.start(settings, null, Duration.ofMillis(200), Duration.ofSeconds(1));
        postgres.closeAfterTest(feed);
        feed.subscribe(heard::add);
        Eventually.holds(Duration.ofSeconds(10), "the feed listens", () -> feed.connects() == 1);

        try (Connection slow = postgres.server().connect()) {
            slow.setAutoCommit(false);
            try (Statement statement = slow.createStatement()) {
                statement.executeUpdate("insert into " + settings.schema() + ".entry (key, value, version, updated_at)"
                        + " values ('certificates/slow.test/chain.pem', 'x', nextval('" + settings.schema()
                        + ".entry_version'), now())");
            }
            nodeA.store("certificates/fast.test/chain.pem", bytes("x")); // a larger version, committed first
            List<String> fast = new ArrayList<>();
            // Once from its NOTIFY, once more from a sync: the feed has now seen the larger version.
            Eventually.holds(Duration.ofSeconds(5), "a sync delivers the larger version", () -> {
                heard.drainTo(fast);
                return fast.size() >= 2;
            });
            assertThat(fast).containsOnly("certificates/fast.test/chain.pem");
            slow.commit();
        }

        Eventually.holds(
                Duration.ofSeconds(5),
                "the late write is heard",
                () -> heard.contains("certificates/slow.test/chain.pem"));
    }

    @Test
    void aNodeWhoseListeningConnectionWasCutHearsWhatChangedMeanwhileAfterItReconnects() throws Exception {
        PostgresSettings settings = postgres.freshSettings();
        PostgresStorage nodeA = postgres.open(settings.withOwner("node-a"));
        BlockingQueue<String> heard = new LinkedBlockingQueue<>();
        ChangeFeed feed = feed(settings, heard);

        // As an operator would from psql. The feed waits a second before reconnecting: these writes fall in it.
        try (Connection admin = postgres.server().connect();
                Statement statement = admin.createStatement();
                ResultSet terminated = statement.executeQuery("select count(pg_terminate_backend(pid))"
                        + " from pg_stat_activity where application_name = 'clicktls-changes'")) {
            terminated.next();
            assertThat(terminated.getInt(1)).isGreaterThanOrEqualTo(1);
        }
        nodeA.store("certificates/renewed.test/chain.pem", bytes("renewed"));
        nodeA.delete("certificates/renewed.test/chain.pem");
        nodeA.store("certificates/other.test/chain.pem", bytes("x"));

        Eventually.holds(Duration.ofSeconds(15), "the feed reconnects", () -> feed.connects() == 2);
        // A sync reports each key's latest change once: the renewal and its deletion are one key to look at again.
        assertThat(drain(heard, 2))
                .containsExactly("certificates/renewed.test/chain.pem", "certificates/other.test/chain.pem");
    }

    @Test
    void aFeedStartedAfterABulkWriteIsToldAgainOfAtMostTheLastLateVersionsOfIt() throws Exception {
        PostgresSettings settings = postgres.freshSettings();
        PostgresStorage nodeA = postgres.open(settings.withOwner("node-a"));
        int bulk = (int) ChangeFeed.LATE_VERSIONS + 2_000; // a storage copy, just before this node starts
        ChangeFeed.Position since;
        try (Connection connection = postgres.server().connect();
                Statement statement = connection.createStatement()) {
            statement.executeUpdate("insert into " + settings.schema() + ".entry (key, value, version, updated_at)"
                    + " select 'bulk/' || lpad(g::text, 6, '0'), 'x', nextval('" + settings.schema()
                    + ".entry_version'), now() from generate_series(1, " + bulk + ") g");
            since = ChangeFeed.current(connection, settings.schema());
        }
        nodeA.store("certificates/after.test/chain.pem", bytes("x"));

        List<String> keys = heardFrom(settings, since, Duration.ofMillis(200), "certificates/after.test/chain.pem");
        Thread.sleep(1_000); // a few more syncs: what they take again is bounded too

        // Within the late-commit margin by time, all of the bulk write would come again; the version bound keeps
        // it to the last LATE_VERSIONS below the position, so its oldest keys are not delivered at all.
        List<String> bulkHeard = List.copyOf(keys).stream()
                .filter(key -> key.startsWith("bulk/"))
                .distinct()
                .toList();
        assertThat(bulkHeard).hasSizeLessThanOrEqualTo((int) ChangeFeed.LATE_VERSIONS);
        assertThat(bulkHeard).doesNotContain("bulk/000001", "bulk/001999");
    }
}
