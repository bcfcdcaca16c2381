package io.clicktls.storage.postgres;

import static io.clicktls.testing.StoredText.bytes;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.clicktls.testing.PostgresServer;
import java.io.IOException;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A node starts without Flyway only on a schema whose history holds exactly this build's migrations
 * ({@link SchemaHistory}); every other schema is still Flyway's: migrated, or refused with its reason.
 */
class PostgresSchemaIT {

    @RegisterExtension
    static final PostgresServer.PerClass postgres = PostgresServer.perClass();

    @Test
    void aSchemaFlywayMigratedIsRecognisedAsUpToDate() throws Exception {
        PostgresSettings settings = postgres.freshSettings();
        assertThat(upToDate(settings)).isFalse(); // nothing there yet

        postgres.open(settings);

        // the history's checksums are Flyway's: this build computes the same ones
        assertThat(upToDate(settings)).isTrue();
    }

    @Test
    void aSchemaAtAnOlderVersionIsMigratedToTheNewest() throws Exception {
        PostgresSettings settings = postgres.freshSettings();
        flyway(settings).target("1").load().migrate();
        assertThat(upToDate(settings)).isFalse();

        PostgresStorage storage = postgres.open(settings);

        assertThat(upToDate(settings)).isTrue();
        storage.store("state/a.test", bytes("x"));
        assertThat(storage.delete("state/a.test")).isTrue(); // V2's deletion marks are written
        assertThat(storage.load("state/a.test")).isEmpty();
    }

    @Test
    void aSchemaWithAFailedMigrationInItsHistoryIsRefused() throws Exception {
        assertRefusedAfter(
                "update %s.flyway_schema_history set success = false where version = '2'", "failed migration");
    }

    @Test
    void aSchemaWhoseMigrationWasEditedIsRefused() throws Exception {
        assertRefusedAfter(
                "update %s.flyway_schema_history set checksum = checksum + 1 where version = '2'", "checksum");
    }

    @Test
    void aSchemaMigratedByANewerBuildIsRefused() throws Exception {
        assertRefusedAfter(
                "insert into %s.flyway_schema_history (installed_rank, version, description, type, script, checksum,"
                        + " installed_by, execution_time, success) select max(installed_rank) + 1, '3', 'later',"
                        + " 'SQL', 'V3__later.sql', 1, 'clicktls', 1, true from %1$s.flyway_schema_history",
                "not resolved locally");
    }

    /** A schema this build migrated, its history then changed: not up to date, and Flyway refuses it for reason. */
    private static void assertRefusedAfter(String historyChange, String reason) throws Exception {
        PostgresSettings settings = postgres.freshSettings();
        postgres.open(settings).close();
        execute(settings, historyChange);

        assertThat(upToDate(settings)).isFalse();
        assertThatThrownBy(() -> PostgresStorage.open(settings))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("cannot migrate schema " + settings.schema())
                .hasMessageContaining(reason);
    }

    private static org.flywaydb.core.api.configuration.FluentConfiguration flyway(PostgresSettings settings) {
        return Flyway.configure(PostgresSchemaIT.class.getClassLoader())
                .dataSource(settings.url(), settings.user(), settings.password())
                .schemas(settings.schema())
                .defaultSchema(settings.schema())
                .createSchemas(true)
                .locations("classpath:db/migration");
    }

    private static boolean upToDate(PostgresSettings settings) throws SQLException {
        try (Connection connection = postgres.server().connect()) {
            return SchemaHistory.upToDate(connection, settings.schema());
        }
    }

    private static void execute(PostgresSettings settings, String sql) throws SQLException {
        try (Connection connection = postgres.server().connect();
                Statement statement = connection.createStatement()) {
            statement.execute(String.format(sql, settings.schema()));
        }
    }
}
