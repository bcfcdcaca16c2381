package io.clicktls.storage.postgres;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.clicktls.storage.CachedStorage;
import io.clicktls.storage.LeaseLostException;
import io.clicktls.storage.NamedLease;
import io.clicktls.storage.Storage;
import io.clicktls.storage.StorageUnavailableException;
import java.io.IOException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.FlywayException;
import org.flywaydb.core.api.output.MigrateResult;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link Storage} in PostgreSQL, shared by every node of a cluster. Keys and values live in one table ({@code entry}:
 * key, value, version, updated_at); named leases with fencing tokens in another ({@code lease}). The schema is made
 * and upgraded at start by Flyway's versioned migrations ({@code db/migration}); Flyway holds a PostgreSQL advisory
 * lock ({@code pg_try_advisory_lock}, retried) while it migrates, so nodes starting together apply each migration
 * once. A schema whose history already holds exactly this build's migrations is used without running Flyway
 * ({@link SchemaHistory}): nothing to migrate, and a faster start.
 *
 * <p>Leases follow the cluster invariants of the design: expiry is computed with the database's clock only; a lease
 * is taken in one statement (a new row, or a takeover of an expired one) with a token from a sequence that is never
 * reset; the holder renews it while it works; and {@link #storeFenced} writes only while the writer's token is still
 * the lease's current one, checked under a row lock in the same transaction. A holder paused past its lease
 * therefore cannot overwrite what the next holder wrote.
 *
 * <p>Private keys (storage keys ending in {@code key.pem}) are encrypted with AES-GCM before they leave the node
 * when {@link PostgresSettings#encryptionKeyFile()} is set; without it, {@link #open} logs a warning.
 *
 * <p>Connections come from a HikariCP pool with short timeouts, so that when PostgreSQL is unreachable an operation
 * fails within about {@link PostgresSettings#connectTimeout()} with an {@link IOException} instead of hanging; the
 * pool reconnects by itself when the server is back. Error messages name the operation and the storage key, never a
 * value or a password.
 *
 * <p>A node starts while the database is down through {@link #start}: the storage opens without a connection, every
 * operation fails at once with a {@link StorageUnavailableException} (so that {@link CachedStorage} answers reads from
 * the node's local copy), and a thread of its own ({@code clicktls-postgres-connect}) connects and migrates when the
 * database is back, retrying with backoff ({@link #FIRST_CONNECT_PAUSE} doubling to {@link #LONGEST_CONNECT_PAUSE}).
 * Once running, an operation that finds the database unreachable starts an outage ({@link #outage}): for
 * {@link #FAIL_FAST} after each failed attempt, operations fail at once instead of each waiting the pool's connection
 * timeout, so that reads fall back to the local copy without holding threads; the first operation or probe
 * ({@link #unreachable}) that gets a connection ends it, with an INFO line.
 *
 * <p>Blocking: every method does network I/O except {@link #outage} and {@link #sealing}; call only from the blocking
 * executor, never from an event loop. Thread-safe.
 */
public final class PostgresStorage implements Storage, AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(PostgresStorage.class);
    private static final long LOCK_FIRST_POLL_MILLIS = 25;
    private static final long LOCK_LONGEST_POLL_MILLIS = 500;
    /** The first retry of a node started while the database was down; doubled per failed try. */
    static final Duration FIRST_CONNECT_PAUSE = Duration.ofSeconds(1);
    /** The longest pause between tries to connect: how late at most a node notices that the database is back. */
    static final Duration LONGEST_CONNECT_PAUSE = Duration.ofSeconds(10);
    /**
     * After an operation found the database unreachable, others fail at once for this long rather than each waiting
     * the pool's connection timeout: a handshake reading a stored certificate falls back to the local copy at once.
     */
    static final Duration FAIL_FAST = Duration.ofSeconds(1);
    /** How long an operation keeps asking a pool whose every connection is in use (see {@link #pooled}). */
    static final Duration BUSY_PATIENCE = Duration.ofSeconds(10);
    /** While the database stays unreachable, the background connect logs at most this often. */
    private static final Duration LOG_EVERY = Duration.ofMinutes(1);

    /** Since when the database is unreachable, and the driver's last word on why. */
    private record Outage(Instant since, String cause) {}

    /** An operation failed without trying a connection (not connected yet, or failing fast): no news of the outage. */
    private static final class NoAttempt extends SQLTransientConnectionException {
        NoAttempt(String reason) {
            super(reason);
        }
    }

    private final PostgresSettings settings;
    private final HikariDataSource pool;
    private final KeyEncryption encryption;
    private final String entry;
    private final String lease;
    private final String entryVersion;
    private final String leaseToken;
    private final String entryDeleted;
    private final String channel;
    private ChangeFeed changes;
    private final AtomicBoolean unencryptedWarned = new AtomicBoolean();
    /** Whether the schema is migrated: at {@link #open}, or later by the background connect of {@link #start}. */
    private volatile boolean ready;
    /** {@code null} while the database answers. */
    private final AtomicReference<Outage> outage = new AtomicReference<>();
    /** Until when ({@link System#nanoTime}) operations fail at once; see {@link #FAIL_FAST}. */
    private volatile long failFastUntil;

    private volatile boolean closed;
    private Thread connector;

    private PostgresStorage(PostgresSettings settings, HikariDataSource pool, KeyEncryption encryption, boolean ready) {
        this.ready = ready;
        this.settings = settings;
        this.pool = pool;
        this.encryption = encryption;
        // The schema name is checked against [a-z_][a-z0-9_]* in PostgresSettings, so it is safe to splice in.
        this.entry = settings.schema() + ".entry";
        this.lease = settings.schema() + ".lease";
        this.entryVersion = settings.schema() + ".entry_version";
        this.leaseToken = settings.schema() + ".lease_token";
        this.entryDeleted = settings.schema() + ".entry_deleted";
        this.channel = channel(settings);
    }

    /**
     * Connects, applies the schema migrations that are missing, and returns the storage.
     *
     * @throws IOException when PostgreSQL cannot be reached or the migrations fail; the storage is not usable then
     */
    public static PostgresStorage open(PostgresSettings settings) throws IOException {
        KeyEncryption encryption = encryption(settings);
        HikariDataSource pool;
        try {
            pool = new HikariDataSource(poolConfig(settings));
        } catch (RuntimeException e) {
            // HikariPool.PoolInitializationException: the first connection failed.
            throw new IOException(
                    "PostgreSQL storage: cannot connect to " + settings.safeUrl() + ": " + describe(e.getCause()), e);
        }
        try {
            migrate(settings, pool);
            pruneDeletionMarks(settings, pool);
        } catch (IOException | RuntimeException e) {
            pool.close();
            throw e;
        }
        return new PostgresStorage(settings, pool, encryption, true);
    }

    /**
     * Like {@link #open}, but a database that cannot be reached does not stop the start: the storage is returned
     * without a connection, its operations fail with {@link StorageUnavailableException} until a background thread
     * has connected and applied the migrations (logged at INFO), and {@link #outage} says why meanwhile. For a node,
     * which serves from its local copy in the meantime; tools that need the database use {@link #open}.
     *
     * @throws IOException when the encryption key file is unusable, or the database answers but the migrations fail
     */
    public static PostgresStorage start(PostgresSettings settings) throws IOException {
        KeyEncryption encryption = encryption(settings);
        HikariConfig config = poolConfig(settings);
        config.setInitializationFailTimeout(-1); // no connection needed to make the pool
        PostgresStorage storage = new PostgresStorage(settings, new HikariDataSource(config), encryption, false);
        try {
            storage.prepare();
        } catch (StorageUnavailableException e) {
            storage.outage.set(new Outage(Instant.now(), causeOf(e)));
            log.warn(
                    "{}; starting without the database: serving what the local cache holds, new certificates wait,"
                            + " connecting in the background",
                    e.getMessage());
            storage.connectInBackground();
        } catch (IOException | RuntimeException e) {
            storage.pool.close();
            throw e;
        }
        return storage;
    }

    private static KeyEncryption encryption(PostgresSettings settings) throws IOException {
        if (settings.encryptionKeyFile() != null) {
            return KeyEncryption.fromFile(settings.encryptionKeyFile());
        }
        log.warn("PostgreSQL storage: no storage.postgres.encryption_key_file; private keys are stored in the"
                + " database unencrypted");
        return null;
    }

    /** Applies the migrations and prunes old deletion marks; then the storage is ready. Blocking. */
    private void prepare() throws IOException {
        migrate(settings, pool);
        pruneDeletionMarks(settings, pool);
        ready = true;
    }

    private void connectInBackground() {
        Thread thread = new Thread(this::connectUntilReady, "clicktls-postgres-connect");
        thread.setDaemon(true);
        synchronized (this) {
            connector = thread;
        }
        thread.start();
    }

    /** Tries {@link #prepare} with backoff until it works or the storage is closed. On its own thread. */
    private void connectUntilReady() {
        Instant started = Instant.now();
        Instant lastLogged = started;
        long pause = FIRST_CONNECT_PAUSE.toMillis();
        while (!closed) {
            try {
                Thread.sleep(pause);
            } catch (InterruptedException e) {
                return;
            }
            try {
                prepare();
                outage.set(null);
                log.info(
                        "PostgreSQL storage: connected to {} {} s after the start and the schema is ready; reads and"
                                + " writes go to the database again",
                        settings.safeUrl(),
                        Duration.between(started, Instant.now()).toSeconds());
                return;
            } catch (IOException | RuntimeException e) {
                if (e instanceof StorageUnavailableException) {
                    String cause = causeOf(e);
                    outage.updateAndGet(now -> new Outage(now == null ? started : now.since(), cause));
                }
                Instant now = Instant.now();
                if (!now.isBefore(lastLogged.plus(LOG_EVERY))) {
                    lastLogged = now;
                    log.warn("PostgreSQL storage: still not connected since the start: {}", e.getMessage());
                }
            }
            pause = Math.min(LONGEST_CONNECT_PAUSE.toMillis(), pause * 2);
        }
    }

    private static HikariConfig poolConfig(PostgresSettings settings) {
        HikariConfig config = new HikariConfig();
        config.setPoolName("clicktls-postgres");
        config.setJdbcUrl(settings.url());
        config.setUsername(settings.user());
        config.setPassword(settings.password());
        config.setMaximumPoolSize(settings.poolSize());
        config.setMinimumIdle(Math.min(2, settings.poolSize()));
        long timeout = settings.connectTimeout().toMillis();
        config.setConnectionTimeout(timeout);
        config.setValidationTimeout(Math.max(250, timeout / 2));
        // Fail at start when the first connection fails, instead of handing out a pool that never connects.
        config.setInitializationFailTimeout(timeout);
        long seconds = Math.max(1, (timeout + 999) / 1000);
        config.addDataSourceProperty("connectTimeout", seconds);
        config.addDataSourceProperty("loginTimeout", seconds);
        // A server that stops answering mid-query (host gone, network cut) must not hold a thread for ever.
        config.addDataSourceProperty("socketTimeout", 30);
        config.addDataSourceProperty("tcpKeepAlive", true);
        config.addDataSourceProperty("ApplicationName", "clicktls");
        // The server's DETAIL lines can quote row contents; keep them out of exception messages.
        config.addDataSourceProperty("logServerErrorDetail", false);
        return config;
    }

    private static void migrate(PostgresSettings settings, HikariDataSource pool) throws IOException {
        try (Connection connection = pool.getConnection()) {
            if (SchemaHistory.upToDate(connection, settings.schema())) {
                return; // nothing for Flyway to do: a node joining a migrated database starts without it
            }
        } catch (SQLException e) {
            if (isUnreachable(e)) {
                throw new StorageUnavailableException(
                        "PostgreSQL storage: cannot migrate schema " + settings.schema() + " at " + settings.safeUrl()
                                + ": " + describe(e),
                        e);
            }
            // another failure of the read: Flyway's own run below reports it in its words
        }
        try {
            MigrateResult result = Flyway.configure(PostgresStorage.class.getClassLoader())
                    .dataSource(pool)
                    .schemas(settings.schema())
                    .defaultSchema(settings.schema())
                    .createSchemas(true)
                    .locations("classpath:db/migration")
                    .cleanDisabled(true)
                    // A schema migrated by a newer build is refused (Flyway ignores it by default): this build does
                    // not know what the newer migrations mean for what it reads and writes.
                    .ignoreMigrationPatterns(new String[0])
                    .load()
                    .migrate();
            if (result.migrationsExecuted > 0) {
                log.info(
                        "PostgreSQL storage: schema {} migrated to version {} ({} migrations)",
                        settings.schema(),
                        result.targetSchemaVersion,
                        result.migrationsExecuted);
            }
        } catch (FlywayException e) {
            String message = "PostgreSQL storage: cannot migrate schema " + settings.schema() + " at "
                    + settings.safeUrl() + ": " + e.getMessage();
            throw isUnreachable(e) ? new StorageUnavailableException(message, e) : new IOException(message, e);
        }
    }

    /**
     * The notification channel: {@code clicktls_changes} for the default schema; another schema (another cluster in
     * the same database) gets a channel of its own.
     */
    static String channel(PostgresSettings settings) {
        return settings.schema() + "_changes";
    }

    private static void pruneDeletionMarks(PostgresSettings settings, HikariDataSource pool) throws IOException {
        try (Connection connection = pool.getConnection();
                PreparedStatement prune = connection.prepareStatement("delete from " + settings.schema()
                        + ".entry_deleted where deleted_at < now() - interval '7 days'")) {
            prune.executeUpdate();
        } catch (SQLException e) {
            String message =
                    "PostgreSQL storage: cannot prune deletion marks at " + settings.safeUrl() + ": " + describe(e);
            throw isUnreachable(e) ? new StorageUnavailableException(message, e) : new IOException(message, e);
        }
    }

    /**
     * Calls {@code listener} with the key of every value stored or deleted from now on, by any node (this one
     * included). Keys are delivered at least once: from PostgreSQL's notifications, and, because notifications sent
     * while the listening connection is down are lost, from a sync of what changed since the last version seen
     * (after every reconnect and every 30 s). Never a value.
     *
     * <p>The listener runs on the feed's own thread ({@code clicktls-storage-changes}); it must not block for long
     * (hand work to the blocking executor).
     *
     * @return closing it stops the calls to this listener
     */
    @Override
    public synchronized AutoCloseable onChange(java.util.function.Consumer<String> listener) throws IOException {
        if (changes == null) {
            // From the history's position now, not from whenever the feed's own connection comes up.
            ChangeFeed.Position since = null;
            try (Connection connection = connection()) {
                since = ChangeFeed.current(connection, settings.schema());
            } catch (SQLException e) {
                log.warn("PostgreSQL storage: change feed starts without a position: {}", describe(e));
            }
            changes = ChangeFeed.start(settings, since, ChangeFeed.SYNC_INTERVAL, ChangeFeed.FIRST_RECONNECT_PAUSE);
        }
        return changes.subscribe(listener);
    }

    public PostgresSettings settings() {
        return settings;
    }

    @Override
    public void store(String key, byte[] value) throws IOException {
        validate(key);
        byte[] stored = sealed(key, value);
        retryingOnce("store", key, connection -> {
            try (PreparedStatement upsert = connection.prepareStatement(upsertSql())) {
                bindUpsert(upsert, key, stored);
                upsert.executeQuery().close();
                return null;
            }
        });
    }

    /**
     * Writes one value and notifies the other nodes, in one statement: PostgreSQL delivers a notification only when
     * its transaction commits, so listeners never hear of a write that did not happen.
     */
    private String upsertSql() {
        return "with written as (insert into " + entry + " (key, value, version, updated_at)"
                + " values (?, ?, nextval('" + entryVersion + "'), now()) on conflict (key) do update"
                + " set value = excluded.value, version = excluded.version, updated_at = excluded.updated_at"
                + " returning key) select pg_notify('" + channel + "', key) from written";
    }

    private static void bindUpsert(PreparedStatement upsert, String key, byte[] value) throws SQLException {
        upsert.setString(1, key);
        upsert.setBytes(2, value);
    }

    @Override
    public Optional<byte[]> load(String key) throws IOException {
        validate(key);
        Optional<byte[]> stored = retryingOnce("load", key, connection -> {
            try (PreparedStatement select =
                    connection.prepareStatement("select value from " + entry + " where key = ?")) {
                select.setString(1, key);
                try (ResultSet row = select.executeQuery()) {
                    return row.next() ? Optional.of(row.getBytes(1)) : Optional.<byte[]>empty();
                }
            }
        });
        return stored.isEmpty() ? stored : Optional.of(opened(key, stored.get()));
    }

    /** One query for every key: a certificate's chain, key and {@code meta.json} in one round trip. */
    @Override
    public Map<String, byte[]> loadAll(List<String> keys) throws IOException {
        for (String key : keys) {
            validate(key);
        }
        String described =
                keys.isEmpty() ? "" : keys.get(0) + (keys.size() > 1 ? " and " + (keys.size() - 1) + " more" : "");
        Map<String, byte[]> stored = retryingOnce("load", described, connection -> {
            try (PreparedStatement select =
                    connection.prepareStatement("select key, value from " + entry + " where key = any(?)")) {
                select.setArray(1, connection.createArrayOf("text", keys.toArray()));
                Map<String, byte[]> values = new HashMap<>();
                try (ResultSet rows = select.executeQuery()) {
                    while (rows.next()) {
                        values.put(rows.getString(1), rows.getBytes(2));
                    }
                }
                return values;
            }
        });
        for (Map.Entry<String, byte[]> value : stored.entrySet()) {
            value.setValue(opened(value.getKey(), value.getValue()));
        }
        return stored;
    }

    /** A private key's value as it goes into the database: sealed when an encryption key is configured. */
    private byte[] sealed(String key, byte[] value) {
        return encryption != null && KeyEncryption.appliesTo(key) ? encryption.seal(key, value) : value;
    }

    /**
     * A private key's value as read from the database. One written before encryption was configured (plain PEM) is
     * still read; one written encrypted cannot be read without the key, and says so.
     */
    private byte[] opened(String key, byte[] stored) throws IOException {
        if (!KeyEncryption.appliesTo(key) || !KeyEncryption.isSealed(stored)) {
            if (encryption != null && KeyEncryption.appliesTo(key) && unencryptedWarned.compareAndSet(false, true)) {
                log.warn(
                        "PostgreSQL storage: {} (and maybe other private keys) is stored unencrypted, written before"
                                + " storage.postgres.encryption_key_file was set; it is encrypted when next written",
                        key);
            }
            return stored;
        }
        if (encryption == null) {
            throw new IOException("PostgreSQL storage: cannot load " + key
                    + ": it is encrypted; set storage.postgres.encryption_key_file to the key it was written with");
        }
        try {
            return encryption.open(key, stored);
        } catch (IOException e) {
            throw new IOException("PostgreSQL storage: " + e.getMessage());
        }
    }

    @Override
    public boolean delete(String key) throws IOException {
        validate(key);
        return retryingOnce("delete", key, connection -> {
            try (PreparedStatement delete = connection.prepareStatement(deleteSql())) {
                delete.setString(1, key);
                try (ResultSet deleted = delete.executeQuery()) {
                    return deleted.next();
                }
            }
        });
    }

    /** Deletes, leaves a deletion mark with the next version, and notifies: one statement, like a write. */
    private String deleteSql() {
        return "with gone as (delete from " + entry + " where key = ? returning key),"
                + " marked as (insert into " + entryDeleted + " (key, version, deleted_at)"
                + " select key, nextval('" + entryVersion + "'), now() from gone on conflict (key) do update"
                + " set version = excluded.version, deleted_at = excluded.deleted_at returning key)"
                + " select pg_notify('" + channel + "', key) from marked";
    }

    @Override
    public List<String> list(String prefix) throws IOException {
        return retryingOnce("list", prefix, connection -> {
            try (PreparedStatement select =
                    connection.prepareStatement("select key from " + entry + " where key like ? escape '\\'")) {
                select.setString(1, likePrefix(prefix));
                List<String> keys = new ArrayList<>();
                try (ResultSet rows = select.executeQuery()) {
                    while (rows.next()) {
                        keys.add(rows.getString(1));
                    }
                }
                return keys;
            }
        });
    }

    /**
     * One transaction for every node: a transaction-scoped advisory lock on the key (so an update of a key not yet
     * stored is serialised too), the read, and the write with its notification; the lock ends with the commit.
     */
    @Override
    public Optional<byte[]> update(String key, Change change) throws IOException {
        validate(key);
        try (Connection connection = connection()) {
            connection.setAutoCommit(false);
            try {
                try (PreparedStatement lock =
                        connection.prepareStatement("select pg_advisory_xact_lock(hashtextextended(?, 0))")) {
                    lock.setString(1, entry + " " + key);
                    lock.executeQuery().close();
                }
                Optional<byte[]> current;
                try (PreparedStatement select =
                        connection.prepareStatement("select value from " + entry + " where key = ?")) {
                    select.setString(1, key);
                    try (ResultSet row = select.executeQuery()) {
                        current = row.next() ? Optional.of(opened(key, row.getBytes(1))) : Optional.empty();
                    }
                }
                byte[] next = change.apply(current);
                if (next != null) {
                    try (PreparedStatement upsert = connection.prepareStatement(upsertSql())) {
                        bindUpsert(upsert, key, sealed(key, next));
                        upsert.executeQuery().close();
                    }
                }
                connection.commit();
                return next == null ? current : Optional.of(next);
            } catch (SQLException | IOException | RuntimeException e) {
                rollbackQuietly(connection);
                throw e;
            } finally {
                connection.setAutoCommit(true);
            }
        } catch (SQLException e) {
            throw failure("update", key, e);
        }
    }

    /** One statement's work on a connection. */
    @FunctionalInterface
    private interface Work<T> {
        T on(Connection connection) throws SQLException;
    }

    /**
     * Runs idempotent work, once more on a fresh connection if the pooled one turned out to be broken (the server
     * restarted since it was last used): the first operation after an outage then succeeds instead of failing on
     * the pool's stale connection. A pool that gives no connection within its timeout is not retried.
     */
    private <T> T retryingOnce(String operation, String key, Work<T> work) throws IOException {
        try {
            try (Connection connection = connection()) {
                return work.on(connection);
            } catch (SQLException e) {
                if (e instanceof SQLTransientConnectionException || !connectionLost(e)) {
                    throw e;
                }
                log.debug("PostgreSQL storage: {} {} on a broken connection; trying another", operation, key);
            }
            try (Connection connection = connection()) {
                return work.on(connection);
            }
        } catch (SQLException e) {
            throw failure(operation, key, e);
        }
    }

    /** The lease row of {@code name} while it has not run out (by the database's clock); read only. */
    @Override
    public Optional<LeaseHolder> leaseHolder(String name) throws IOException {
        String sql = "select owner, taken_at, expires_at from " + lease + " where name = ? and expires_at > now()";
        return retryingOnce("read the lease", name, connection -> {
            try (PreparedStatement read = connection.prepareStatement(sql)) {
                read.setString(1, name);
                try (ResultSet row = read.executeQuery()) {
                    if (!row.next()) {
                        return Optional.empty();
                    }
                    return Optional.of(holder(row, 1));
                }
            }
        });
    }

    /**
     * The lease rows under {@code prefix} that have not run out (by the database's clock), by name: one query, a range
     * of the primary key's index (names are {@code "C"}-collated, so the prefix {@code like} uses it). Read only.
     */
    @Override
    public List<CurrentLease> currentLeases(String prefix, int limit) throws IOException {
        String sql = "select name, owner, taken_at, expires_at from " + lease
                + " where name like ? escape '\\' and expires_at > now() order by name limit ?";
        return retryingOnce("list leases", prefix, connection -> {
            try (PreparedStatement read = connection.prepareStatement(sql)) {
                read.setString(1, likePrefix(prefix));
                read.setInt(2, Math.max(0, limit));
                List<CurrentLease> leases = new ArrayList<>();
                try (ResultSet row = read.executeQuery()) {
                    while (row.next()) {
                        leases.add(new CurrentLease(row.getString(1), holder(row, 2)));
                    }
                }
                return leases;
            }
        });
    }

    /** The lease holder in a row's columns {@code owner, taken_at, expires_at}, starting at {@code column}. */
    private static LeaseHolder holder(ResultSet row, int column) throws SQLException {
        return new LeaseHolder(
                row.getString(column),
                row.getTimestamp(column + 1).toInstant(),
                row.getTimestamp(column + 2).toInstant());
    }

    private static String likePrefix(String prefix) {
        return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%";
    }

    /**
     * Why the database cannot take writes now (unreachable, refusing connections, in recovery), or empty when it
     * answers: a probe for {@code RetryingStorage.watch} and for health checks. Waits at most the pool's connection
     * timeout.
     */
    public Optional<String> unreachable() {
        if (!ready) {
            return outage();
        }
        try (Connection connection = connection(true);
                Statement statement = connection.createStatement();
                ResultSet row = statement.executeQuery("select pg_is_in_recovery()")) {
            row.next();
            return row.getBoolean(1)
                    ? Optional.of("PostgreSQL at " + settings.safeUrl() + " is a read-only standby")
                    : Optional.empty();
        } catch (SQLException e) {
            if (isUnreachable(e)) {
                noteUnreachable(e);
            }
            return Optional.of("PostgreSQL at " + settings.safeUrl() + ": " + describe(e));
        }
    }

    /**
     * Why the database could not be reached at the last attempt (an operation, a probe, the background connect), and
     * since when; empty while it answers. Memory only; any thread (the status page, {@code /healthz}, a gauge).
     */
    public Optional<String> outage() {
        Outage now = outage.get();
        if (now == null) {
            return Optional.empty();
        }
        return Optional.of("PostgreSQL at " + settings.safeUrl() + " unreachable since " + now.since()
                + (ready ? "" : " (not connected since the node started)") + ": " + now.cause());
    }

    /**
     * How {@link CachedStorage} keeps this node's local copy as protected as the database: private keys sealed with
     * {@code storage.postgres.encryption_key_file} when one is set, and read back as {@link #load} reads them. Any
     * thread.
     */
    public CachedStorage.Sealing sealing() {
        return new CachedStorage.Sealing() {
            @Override
            public byte[] seal(String key, byte[] value) {
                return sealed(key, value);
            }

            @Override
            public byte[] open(String key, byte[] stored) throws IOException {
                return opened(key, stored);
            }
        };
    }

    /** For {@link Storage}'s health probe: the database cannot take writes when it cannot be reached. */
    @Override
    public Optional<String> unwritable() {
        return unreachable();
    }

    /**
     * Takes the named lease, waiting while another holder has it (polling, with backoff up to half a second). The
     * returned {@link Lease} is also the lock: closing it releases the lease if it is still ours.
     */
    @Override
    public Lease lock(String name, Duration lease) throws IOException, InterruptedException {
        long pause = LOCK_FIRST_POLL_MILLIS;
        while (true) {
            Optional<Lease> taken = tryLease(name, lease);
            if (taken.isPresent()) {
                return taken.get();
            }
            Thread.sleep(pause);
            pause = Math.min(LOCK_LONGEST_POLL_MILLIS, pause * 2);
        }
    }

    /**
     * Takes the named lease if nobody holds it or its holder's lease has expired (by the database's clock), in one
     * statement, with a fencing token larger than any given before.
     *
     * @return the lease, or empty when someone else holds it
     */
    @Override
    public Optional<Lease> tryLease(String name, Duration duration) throws IOException {
        validateLease(name, duration);
        String sql = "insert into " + lease + " as held (name, token, owner, taken_at, expires_at)"
                + " values (?, nextval('" + leaseToken + "'), ?, now(), now() + ? * interval '1 millisecond')"
                + " on conflict (name) do update"
                + " set token = excluded.token, owner = excluded.owner, taken_at = excluded.taken_at,"
                + " expires_at = excluded.expires_at"
                + " where held.expires_at <= now()"
                + " returning token, expires_at";
        try (Connection connection = connection();
                PreparedStatement take = connection.prepareStatement(sql)) {
            take.setString(1, name);
            take.setString(2, settings.owner());
            take.setLong(3, duration.toMillis());
            try (ResultSet row = take.executeQuery()) {
                if (!row.next()) {
                    return Optional.empty();
                }
                return Optional.of(
                        new Lease(name, row.getLong(1), row.getTimestamp(2).toInstant()));
            }
        } catch (SQLException e) {
            throw failure("take lease", name, e);
        }
    }

    /**
     * Writes {@code value} under {@code key} only if {@code lease} is still the current holder of its name: the
     * lease row is locked ({@code select … for update}) and its token compared in the same transaction as the write.
     *
     * @throws LeaseLostException when another holder has taken the lease over (nothing is written)
     */
    public void storeFenced(Storage.Lease lease, String key, byte[] value) throws IOException {
        Map<String, byte[]> values = new LinkedHashMap<>();
        values.put(key, value);
        storeFenced(lease, values);
    }

    /**
     * Writes all {@code values} in one transaction, only if {@code lease} is still the current holder of its name
     * (see {@link #storeFenced(Lease, String, byte[])}): a certificate, its key and the name's state land together
     * or not at all.
     *
     * @throws LeaseLostException when another holder has taken the lease over (nothing is written)
     */
    public void storeFenced(Storage.Lease lease, Map<String, byte[]> values) throws IOException {
        writeFenced(lease, values, List.of());
    }

    /**
     * Stores {@code values} and deletes {@code deletions} in one transaction, only if {@code lease} is still the
     * current holder of its name (see {@link #storeFenced(Lease, String, byte[])}): a renewal that replaces some
     * files and drops others, or a forget, lands whole or not at all.
     *
     * @throws LeaseLostException when another holder has taken the lease over (nothing is written or deleted)
     */
    @Override
    public void writeFenced(Storage.Lease lease, Map<String, byte[]> values, Collection<String> deletions)
            throws IOException {
        if (!(lease instanceof Lease)) {
            throw new IllegalArgumentException(lease + " was not taken from PostgreSQL storage");
        }
        values.keySet().forEach(PostgresStorage::validate);
        deletions.forEach(PostgresStorage::validate);
        String first = !values.isEmpty()
                ? values.keySet().iterator().next()
                : deletions.isEmpty() ? lease.name() : deletions.iterator().next();
        try (Connection connection = connection()) {
            connection.setAutoCommit(false);
            try {
                long current = currentToken(connection, lease.name());
                if (current != lease.token()) {
                    connection.rollback();
                    throw new LeaseLostException(lease.name(), lease.token(), current);
                }
                try (PreparedStatement upsert = connection.prepareStatement(upsertSql())) {
                    for (Map.Entry<String, byte[]> value : values.entrySet()) {
                        bindUpsert(upsert, value.getKey(), sealed(value.getKey(), value.getValue()));
                        upsert.executeQuery().close();
                    }
                }
                try (PreparedStatement delete = connection.prepareStatement(deleteSql())) {
                    for (String key : deletions) {
                        delete.setString(1, key);
                        delete.executeQuery().close();
                    }
                }
                connection.commit();
            } catch (SQLException | RuntimeException e) {
                rollbackQuietly(connection);
                throw e;
            } finally {
                connection.setAutoCommit(true);
            }
        } catch (SQLException e) {
            throw failure("store", first, e);
        }
    }

    /** @return the lease's current token (locked until the transaction ends), or -1 when there is no lease row */
    private long currentToken(Connection connection, String name) throws SQLException {
        try (PreparedStatement select =
                connection.prepareStatement("select token from " + lease + " where name = ? for update")) {
            select.setString(1, name);
            try (ResultSet row = select.executeQuery()) {
                return row.next() ? row.getLong(1) : -1;
            }
        }
    }

    private static void rollbackQuietly(Connection connection) {
        try {
            connection.rollback();
        } catch (SQLException e) {
            log.debug("rollback failed", e);
        }
    }

    /** Closes the pool and the change feed; operations fail afterwards. */
    @Override
    public void close() {
        closed = true;
        synchronized (this) {
            if (changes != null) {
                changes.close();
            }
            if (connector != null) {
                connector.interrupt();
            }
        }
        pool.close();
    }

    private Connection connection() throws SQLException {
        return connection(false);
    }

    /**
     * A pooled connection; during an outage (see {@link #FAIL_FAST}) none is tried for a moment after a failed try,
     * unless {@code probe}. Getting one ends the outage.
     */
    private Connection connection(boolean probe) throws SQLException {
        if (!ready) {
            Outage now = outage.get();
            throw new NoAttempt("not connected since the node started" + (now == null ? "" : ": " + now.cause()));
        }
        Outage now = outage.get();
        if (now != null && !probe && System.nanoTime() - failFastUntil < 0) {
            throw new NoAttempt(now.cause());
        }
        Connection connection = pooled();
        if (now != null && outage.compareAndSet(now, null)) {
            log.info(
                    "PostgreSQL storage: {} answers again after {} s; reads and writes go to the database again",
                    settings.safeUrl(),
                    Duration.between(now.since(), Instant.now()).toSeconds());
        }
        return connection;
    }

    /**
     * A connection from the pool, asked for again while every connection is in use (the pool's wait, the connect
     * timeout, ran out without a failed connection attempt) for up to {@link #BUSY_PATIENCE}: the database answers,
     * and a burst of work (a thousand new names on every node at once) gives connections back within seconds. An
     * operation failing there instead would be a lease not taken, a challenge or certificate not written while the
     * order goes on, each a second order for the name somewhere in the cluster.
     */
    private Connection pooled() throws SQLException {
        long deadline = System.nanoTime() + BUSY_PATIENCE.toNanos();
        while (true) {
            try {
                return pool.getConnection();
            } catch (SQLTransientConnectionException e) {
                if (!poolBusy(e) || System.nanoTime() - deadline >= 0) {
                    throw e;
                }
            }
        }
    }

    /** Starts an outage, or prolongs it: the next {@link #FAIL_FAST} fails at once. Logs its start once. */
    private void noteUnreachable(SQLException e) {
        failFastUntil = System.nanoTime() + FAIL_FAST.toNanos();
        String cause = causeOf(e);
        Outage before = outage.getAndUpdate(now -> new Outage(now == null ? Instant.now() : now.since(), cause));
        if (before == null) {
            log.warn(
                    "PostgreSQL storage: {} unreachable ({}); serving what this node holds, new certificates wait"
                            + " until it is back",
                    settings.safeUrl(),
                    describe(e));
        }
    }

    private IOException failure(String operation, String key, SQLException e) {
        String message = "PostgreSQL storage: cannot " + operation + " " + key + ": " + describe(e);
        if (isUnreachable(e)) {
            // A pool with every connection busy is not an outage: the database answers, so orders must not be held
            // back nor reads sent to the local copy for FAIL_FAST. The operation still fails as unavailable.
            if (!(e instanceof NoAttempt) && !poolBusy(e)) {
                noteUnreachable(e);
            }
            return new StorageUnavailableException(message, e, poolBusy(e));
        }
        return new IOException(message, e);
    }

    /**
     * Whether {@code e} is the pool's wait for a connection running out while no connection attempt failed: every
     * pooled connection was in use (HikariCP gives its timeout the last connection failure as its cause, and there was
     * none).
     */
    static boolean poolBusy(Throwable e) {
        return e instanceof SQLTransientConnectionException && !(e instanceof NoAttempt) && e.getCause() == null;
    }

    /** Whether {@code e}, or what caused it, says the database could not be reached (rather than refused the work). */
    static boolean isUnreachable(Throwable e) {
        for (Throwable cause = e; cause != null; cause = cause.getCause()) {
            if (cause instanceof SQLTransientConnectionException
                    || (cause instanceof SQLException sql && connectionLost(sql))) {
                return true;
            }
            if (cause.getCause() == cause) {
                break;
            }
        }
        return false;
    }

    /** The driver's words on why the database could not be reached: the innermost message, which names no value. */
    private static String causeOf(Throwable e) {
        String message = e.getMessage();
        for (Throwable cause = e; cause != null && cause.getCause() != cause; cause = cause.getCause()) {
            if (cause instanceof SQLException && cause.getMessage() != null) {
                message = cause.getMessage();
            }
        }
        return message == null ? e.getClass().getSimpleName() : message;
    }

    /** What went wrong, in words that carry no value: the driver's message and SQL state, or "unreachable". */
    static String describe(Throwable e) {
        if (poolBusy(e)) {
            return "database busy: every pooled connection in use (storage.postgres.pool_size)";
        }
        if (e instanceof SQLTransientConnectionException) {
            // the driver's cause ("Connection to host:port refused"), not the pool's wait: the same words each time
            return "database unreachable (" + causeOf(e) + ")";
        }
        if (e instanceof SQLException sql) {
            String state = sql.getSQLState();
            String message = sql.getMessage();
            if (connectionLost(sql)) {
                return "database connection lost (" + message + ")";
            }
            return state == null ? message : message + " [SQLState " + state + "]";
        }
        return e == null ? "unknown error" : e.getMessage();
    }

    /**
     * Whether the connection broke rather than the statement failing: connection exceptions (class 08) and the
     * server shutting down or not accepting connections yet (57P01-57P03).
     */
    static boolean connectionLost(SQLException e) {
        String state = e.getSQLState();
        return state != null && (state.startsWith("08") || state.startsWith("57P0"));
    }

    /** The same key rules as the file system's storage, so that either can be copied into the other. */
    static void validate(String key) {
        if (key == null || key.isEmpty()) {
            throw new IllegalArgumentException("empty storage key");
        }
        if (key.startsWith("/") || key.indexOf('\\') >= 0 || key.indexOf('\0') >= 0 || key.indexOf(':') >= 0) {
            throw new IllegalArgumentException("storage key must be a relative slash-separated path: " + key);
        }
        for (String segment : key.split("/", -1)) {
            if (segment.isEmpty() || segment.startsWith(".")) {
                throw new IllegalArgumentException("storage key has an empty or dot segment: " + key);
            }
        }
    }

    private static void validateLease(String name, Duration duration) {
        validate(name);
        if (duration.toMillis() < 1) {
            throw new IllegalArgumentException("lease for " + name + ": " + duration + " (expected: positive)");
        }
    }

    /**
     * A lease held by this node: the name, its fencing token, and until when the database keeps it. Renew it well
     * before it expires; a renewal that fails means the lease is lost and the work under it must be abandoned, not
     * finished. Closing it releases the lease if it is still ours (another holder's is left alone).
     */
    public final class Lease extends NamedLease {
        private volatile Instant expiresAt;

        Lease(String name, long token, Instant expiresAt) {
            super(name, token);
            this.expiresAt = expiresAt;
        }

        /** When the lease runs out unless renewed, by the database's clock, as of the last take or renewal. */
        public Instant expiresAt() {
            return expiresAt;
        }

        /**
         * Extends the lease to {@code duration} from now (database time), if it is still ours.
         *
         * @return false when the lease was taken over: stop the work under it
         */
        @Override
        public boolean renew(Duration duration) throws IOException {
            validateLease(name(), duration);
            String sql = "update " + lease + " set expires_at = now() + ? * interval '1 millisecond'"
                    + " where name = ? and token = ? returning expires_at";
            try (Connection connection = connection();
                    PreparedStatement renew = connection.prepareStatement(sql)) {
                renew.setLong(1, duration.toMillis());
                renew.setString(2, name());
                renew.setLong(3, token());
                try (ResultSet row = renew.executeQuery()) {
                    if (!row.next()) {
                        return false;
                    }
                    expiresAt = row.getTimestamp(1).toInstant();
                    return true;
                }
            } catch (SQLException e) {
                throw failure("renew lease", name(), e);
            }
        }

        @Override
        public void close() throws IOException {
            try (Connection connection = connection();
                    PreparedStatement release =
                            connection.prepareStatement("delete from " + lease + " where name = ? and token = ?")) {
                release.setString(1, name());
                release.setLong(2, token());
                release.executeUpdate();
            } catch (SQLException e) {
                throw failure("release lease", name(), e);
            }
        }
    }
}
