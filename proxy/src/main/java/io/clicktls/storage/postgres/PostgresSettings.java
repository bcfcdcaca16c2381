package io.clicktls.storage.postgres;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * Where and how {@link PostgresStorage} connects.
 *
 * @param url a {@code jdbc:postgresql://host:port/database} URL; credentials belong in {@code user} and
 *     {@code password}, not in the URL
 * @param user the database role, or {@code null} for the driver's default
 * @param password the role's password, or {@code null}; never printed (see {@link #toString()})
 * @param schema the schema that holds clicktls' tables (created by the migrations if missing): lower-case letters,
 *     digits and underscores, starting with a letter or underscore
 * @param poolSize the most connections this node holds open
 * @param encryptionKeyFile a file with a 256-bit AES key in base64 (e.g. {@code openssl rand -base64 32}); private
 *     keys are stored encrypted with it, or in plain text when {@code null}
 * @param owner the name this node writes into the leases it takes (for the status page and operators)
 * @param connectTimeout how long an operation waits for a connection before it fails: short, so that an outage
 *     fails fast instead of piling up blocked threads
 */
public record PostgresSettings(
        String url,
        String user,
        String password,
        String schema,
        int poolSize,
        Path encryptionKeyFile,
        String owner,
        Duration connectTimeout) {

    public static final String DEFAULT_SCHEMA = "clicktls";
    public static final int DEFAULT_POOL_SIZE = 8;
    public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(2);

    private static final Pattern SCHEMA = Pattern.compile("[a-z_][a-z0-9_]{0,62}");

    public PostgresSettings {
        Objects.requireNonNull(url, "url");
        if (!url.startsWith("jdbc:postgresql:")) {
            throw new IllegalArgumentException("storage.postgres.url must start with jdbc:postgresql:");
        }
        schema = schema == null ? DEFAULT_SCHEMA : schema;
        if (!SCHEMA.matcher(schema).matches()) {
            throw new IllegalArgumentException("storage.postgres.schema: " + schema
                    + " (expected: lower-case letters, digits and _, starting with a letter or _, at most 63)");
        }
        if (poolSize < 1 || poolSize > 1000) {
            throw new IllegalArgumentException("storage.postgres.pool_size: " + poolSize + " (expected: 1-1000)");
        }
        owner = owner == null || owner.isBlank() ? defaultOwner() : owner;
        connectTimeout = connectTimeout == null ? DEFAULT_CONNECT_TIMEOUT : connectTimeout;
        if (connectTimeout.toMillis() < 250) {
            throw new IllegalArgumentException("connect timeout: " + connectTimeout + " (expected: at least 250 ms)");
        }
    }

    /** The settings {@code storage.postgres} gives, with the defaults for the rest. */
    public static PostgresSettings from(io.clicktls.config.StorageSettings.Postgres config) {
        return new PostgresSettings(
                config.url(),
                config.user(),
                config.password(),
                config.schema(),
                config.poolSize(),
                config.encryptionKeyFile(),
                null,
                null);
    }

    /** Settings with the defaults for everything but where to connect. */
    public static PostgresSettings of(String url, String user, String password) {
        return new PostgresSettings(url, user, password, null, DEFAULT_POOL_SIZE, null, null, null);
    }

    public PostgresSettings withSchema(String schema) {
        return new PostgresSettings(url, user, password, schema, poolSize, encryptionKeyFile, owner, connectTimeout);
    }

    public PostgresSettings withEncryptionKeyFile(Path file) {
        return new PostgresSettings(url, user, password, schema, poolSize, file, owner, connectTimeout);
    }

    public PostgresSettings withOwner(String owner) {
        return new PostgresSettings(url, user, password, schema, poolSize, encryptionKeyFile, owner, connectTimeout);
    }

    public PostgresSettings withPoolSize(int poolSize) {
        return new PostgresSettings(url, user, password, schema, poolSize, encryptionKeyFile, owner, connectTimeout);
    }

    /** The URL without its query (where a password may hide), for log lines. */
    public String safeUrl() {
        int query = url.indexOf('?');
        return query < 0 ? url : url.substring(0, query) + "?…";
    }

    /** Never shows the password: records print every component, and settings end up in logs and errors. */
    @Override
    public String toString() {
        return "PostgresSettings[url=" + safeUrl() + ", user=" + user + ", password="
                + (password == null ? "none" : "***") + ", schema=" + schema + ", poolSize=" + poolSize
                + ", encryptionKeyFile=" + encryptionKeyFile + ", owner=" + owner + ", connectTimeout="
                + connectTimeout + "]";
    }

    private static String defaultOwner() {
        // No InetAddress.getLocalHost(): it may ask DNS, and a node must start without it.
        String host = System.getenv("HOSTNAME");
        if (host == null || host.isBlank()) {
            try {
                host = java.nio.file.Files.readString(Path.of("/proc/sys/kernel/hostname"))
                        .trim();
            } catch (java.io.IOException | RuntimeException e) {
                host = "node";
            }
        }
        return host + "/" + ProcessHandle.current().pid();
    }
}
