package io.clicktls.storage.postgres;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The keys other nodes (and this one) store or delete, heard on a dedicated connection that {@code LISTEN}s to the
 * storage's channel. Notifications are not enough on their own: those sent while the connection is down are lost.
 * So after every (re)connect, and every {@code syncInterval} while connected, the feed asks what changed since the
 * last version it saw (rows carry a version from one sequence; deletions leave a mark with one) and delivers those
 * keys too. Delivery is at least once; a key may come twice.
 *
 * <p>Runs on its own daemon thread, {@code clicktls-storage-changes}, which also calls the listeners: they must not
 * block for long. The connection is not from the pool, so a busy pool never delays notifications; when it fails the
 * feed reconnects with backoff (from {@code firstReconnectPause} up to 5 s), logging the outage once.
 */
final class ChangeFeed implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(ChangeFeed.class);

    static final Duration SYNC_INTERVAL = Duration.ofSeconds(30);
    static final Duration FIRST_RECONNECT_PAUSE = Duration.ofMillis(250);
    private static final long LONGEST_RECONNECT_PAUSE_MILLIS = 5_000;
    private static final int POLL_MILLIS = 500;
    static final Duration LATE_COMMIT_MARGIN = Duration.ofSeconds(10);
    /** How far below the last version seen a late commit's version can be: writes in flight at once, with room. */
    static final long LATE_VERSIONS = 10_000;

    private final PostgresSettings settings;
    private final Duration syncInterval;
    private final Duration firstReconnectPause;
    private final List<Consumer<String>> listeners = new CopyOnWriteArrayList<>();
    private final Thread thread;
    private volatile boolean closed;
    private volatile Connection connection;
    /** The largest version delivered by a sync: the next sync asks for what came after it. */
    private long seen = -1;
    /** When the last sync ran, by the database's clock. */
    private Timestamp syncedAt;

    private volatile int connects;

    private ChangeFeed(PostgresSettings settings, Position since, Duration syncInterval, Duration firstReconnectPause) {
        this.settings = settings;
        if (since != null) {
            this.seen = since.version();
            this.syncedAt = since.at();
        }
        this.syncInterval = syncInterval;
        this.firstReconnectPause = firstReconnectPause;
        this.thread = new Thread(this::run, "clicktls-storage-changes");
        thread.setDaemon(true);
    }

    /** Where the change history stands: the largest version written, at a database time. */
    record Position(long version, Timestamp at) {}

    /**
     * The current position, read on {@code connection}, so that a feed started from it misses nothing written
     * after this call even though it connects later.
     */
    static Position current(Connection connection, String schema) throws SQLException {
        try (Statement statement = connection.createStatement();
                ResultSet row = statement.executeQuery("select greatest((select max(version) from " + schema
                        + ".entry), (select max(version) from " + schema + ".entry_deleted), 0), now()")) {
            row.next();
            return new Position(row.getLong(1), row.getTimestamp(2));
        }
    }

    /**
     * @param since deliver what was written after this position; {@code null} for "from when the feed first
     *     listens"
     */
    static ChangeFeed start(
            PostgresSettings settings, Position since, Duration syncInterval, Duration firstReconnectPause) {
        ChangeFeed feed = new ChangeFeed(settings, since, syncInterval, firstReconnectPause);
        feed.thread.start();
        return feed;
    }

    AutoCloseable subscribe(Consumer<String> listener) {
        listeners.add(listener);
        return () -> listeners.remove(listener);
    }

    /** How many times the feed has connected, listened and synced (for tests and health checks). */
    int connects() {
        return connects;
    }

    private void run() {
        long pause = firstReconnectPause.toMillis();
        boolean reportedOutage = false;
        while (!closed) {
            try (Connection listening = connect()) {
                connection = listening;
                try (Statement listen = listening.createStatement()) {
                    listen.execute("LISTEN " + PostgresStorage.channel(settings));
                }
                if (reportedOutage) {
                    log.info("PostgreSQL change feed: listening again");
                    reportedOutage = false;
                }
                pause = firstReconnectPause.toMillis();
                listen(listening);
            } catch (SQLException | RuntimeException e) {
                if (closed) {
                    return;
                }
                if (!reportedOutage) {
                    log.warn("PostgreSQL change feed stopped, reconnecting: {}", PostgresStorage.describe(e));
                    reportedOutage = true;
                }
            } finally {
                connection = null;
            }
            try {
                Thread.sleep(pause);
            } catch (InterruptedException e) {
                return;
            }
            pause = Math.min(LONGEST_RECONNECT_PAUSE_MILLIS, pause * 2);
        }
    }

    /** Syncs (notifications sent while away were lost), then delivers notifications, syncing again now and then. */
    private void listen(Connection listening) throws SQLException {
        PGConnection notifications = listening.unwrap(PGConnection.class);
        sync(listening);
        connects++; // counted once listening and synced: from here on nothing is missed
        long nextSync = System.nanoTime() + syncInterval.toNanos();
        while (!closed) {
            PGNotification[] received = notifications.getNotifications(POLL_MILLIS);
            if (received != null) {
                for (PGNotification notification : received) {
                    deliver(notification.getParameter());
                }
            }
            if (System.nanoTime() - nextSync >= 0) {
                sync(listening);
                nextSync = System.nanoTime() + syncInterval.toNanos();
            }
        }
    }

    /**
     * Delivers the keys that changed since the last sync. The first sync only learns the current version: a
     * listener wants changes from now on, not the whole history.
     *
     * <p>Versions are taken when a write starts, not when it commits: a write that took version 10 may commit after
     * one that took 11 was seen. So a sync also takes again what was written in the {@link #LATE_COMMIT_MARGIN}
     * before the previous sync (by the rows' database time); a key may then come twice, never not at all unless a
     * single write takes longer than the margin to commit.
     */
    private void sync(Connection listening) throws SQLException {
        String schema = settings.schema();
        Timestamp now;
        try (Statement statement = listening.createStatement();
                ResultSet row = statement.executeQuery("select now()")) {
            row.next();
            now = row.getTimestamp(1);
        }
        if (seen < 0) {
            Position position = current(listening, schema);
            seen = position.version();
            syncedAt = position.at();
            return;
        }
        String margin = "cast(? as timestamptz) - interval '" + LATE_COMMIT_MARGIN.toMillis() + " milliseconds'";
        String late = "(version > ? and " + "%s > " + margin + ")";
        String sql =
                "select key, version from " + schema + ".entry where version > ? or " + late.formatted("updated_at")
                        + " union all select key, version from " + schema + ".entry_deleted where version > ? or "
                        + late.formatted("deleted_at") + " order by version";
        // A late commit held a version taken while it was in flight: within the last LATE_VERSIONS below what was
        // seen (far more than every node's pool can have in flight). Without that bound, a node starting just
        // after a bulk write (a storage copy) would be told of every key of it again.
        long lateFloor = Math.max(0, seen - LATE_VERSIONS);
        try (PreparedStatement changed = listening.prepareStatement(sql)) {
            changed.setLong(1, seen);
            changed.setLong(2, lateFloor);
            changed.setTimestamp(3, syncedAt);
            changed.setLong(4, seen);
            changed.setLong(5, lateFloor);
            changed.setTimestamp(6, syncedAt);
            try (ResultSet rows = changed.executeQuery()) {
                while (rows.next()) {
                    deliver(rows.getString(1));
                    seen = Math.max(seen, rows.getLong(2));
                }
            }
        }
        syncedAt = now;
    }

    private void deliver(String key) {
        for (Consumer<String> listener : listeners) {
            try {
                listener.accept(key);
            } catch (RuntimeException e) {
                log.warn("PostgreSQL change feed: a listener failed on {}", key, e);
            }
        }
    }

    private Connection connect() throws SQLException {
        Properties properties = new Properties();
        if (settings.user() != null) {
            properties.setProperty("user", settings.user());
        }
        if (settings.password() != null) {
            properties.setProperty("password", settings.password());
        }
        long seconds = Math.max(1, (settings.connectTimeout().toMillis() + 999) / 1000);
        properties.setProperty("connectTimeout", Long.toString(seconds));
        properties.setProperty("loginTimeout", Long.toString(seconds));
        properties.setProperty("tcpKeepAlive", "true");
        properties.setProperty("ApplicationName", "clicktls-changes");
        properties.setProperty("logServerErrorDetail", "false");
        return DriverManager.getConnection(settings.url(), properties);
    }

    @Override
    public void close() {
        closed = true;
        thread.interrupt();
        Connection current = connection;
        if (current != null) {
            try {
                current.close(); // ends a wait in getNotifications
            } catch (SQLException e) {
                log.debug("closing the change feed's connection failed", e);
            }
        }
    }
}
