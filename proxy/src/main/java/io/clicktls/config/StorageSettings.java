package io.clicktls.config;

import java.nio.file.Path;
import java.time.Duration;

/**
 * Where certificates, keys, the local CA and the ACME account live: a folder ({@code storage.directory}, the
 * default), or a PostgreSQL database shared by the nodes of a cluster ({@code storage.postgres}).
 *
 * @param postgres {@code null} unless {@code storage.postgres} is given
 * @param postgresCache with {@code postgres}: the node's local copy of what it read from or wrote to the database,
 *     which it serves from while the database is unreachable ({@code storage.postgres.cache_directory}, default
 *     {@link #DEFAULT_POSTGRES_CACHE})
 * @param lease {@code storage.lease}: how long a node's claim on a name's order lasts unless renewed (a third of it
 *     between renewals while the order runs), so how soon another node takes over when the holder dies
 */
public record StorageSettings(Path directory, Postgres postgres, Path postgresCache, Duration lease) {

    /** {@code storage.directory} when it is left out, relative to the config file's folder. */
    public static final String DEFAULT_DIRECTORY = "data";
    /** {@code storage.postgres.cache_directory} when it is left out, relative to the config file's folder. */
    public static final String DEFAULT_POSTGRES_CACHE = DEFAULT_DIRECTORY + "/postgres-cache";

    /** {@code storage.lease} when it is left out. */
    public static final Duration DEFAULT_LEASE = Duration.ofSeconds(30);

    public StorageSettings(Path directory) {
        this(directory, null);
    }

    /** With the local copy of {@code postgres} in {@link #DEFAULT_POSTGRES_CACHE} under the working folder. */
    public StorageSettings(Path directory, Postgres postgres) {
        this(directory, postgres, Path.of(DEFAULT_POSTGRES_CACHE), DEFAULT_LEASE);
    }

    /**
     * {@code storage.postgres}. The password is a secret: {@link #toString()} never shows it.
     *
     * @param password from {@code password} or {@code password_file}, or {@code null}
     * @param encryptionKeyFile private keys are encrypted at rest with the key in it, or stored plain when
     *     {@code null}
     */
    public record Postgres(
            String url, String user, String password, String schema, int poolSize, Path encryptionKeyFile) {

        public static final String DEFAULT_SCHEMA = "clicktls";
        public static final int DEFAULT_POOL_SIZE = 8;

        @Override
        public String toString() {
            int query = url.indexOf('?');
            return "Postgres[url=" + (query < 0 ? url : url.substring(0, query) + "?…") + ", user=" + user
                    + ", password=" + (password == null ? "(none)" : "(set)") + ", schema=" + schema + ", poolSize="
                    + poolSize + ", encryptionKeyFile=" + encryptionKeyFile + "]";
        }
    }
}
