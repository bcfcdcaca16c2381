package io.clicktls.storage.postgres;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32;

/**
 * Whether a schema's Flyway history already holds exactly the migrations this build carries, so that a node joining
 * a migrated database starts without Flyway: loading Flyway and scanning the jar for migrations took 0.7–0.9 s of a
 * node's start, for a database that needed nothing. One read of {@code flyway_schema_history}; anything but an exact
 * match (no history, an older schema, a newer one, a failed or edited migration, a baseline or a repair mark) leaves
 * the decision to Flyway, which migrates under its advisory lock, refuses what its validation refuses, and says why.
 *
 * <p>The migrations are named in {@link #MIGRATIONS} rather than found by scanning the classpath (the scan is the
 * cost being saved); {@code SchemaHistoryTest} checks that the list names every file in {@code db/migration}, so a
 * migration added without it cannot be skipped.
 */
final class SchemaHistory {

    /** Every file in {@code db/migration}, in the order Flyway applies them. */
    static final List<String> MIGRATIONS = List.of("V1__entries_and_leases.sql", "V2__deletion_marks.sql");

    /** A row of Flyway's history as this build would have written it: a versioned SQL migration that succeeded. */
    record Applied(String version, int checksum) {}

    private static final List<Applied> EXPECTED = expected();

    private SchemaHistory() {}

    /**
     * Whether {@code schema} holds every migration of this build and nothing else, by Flyway's own history.
     *
     * @throws SQLException when the read fails for another reason than a missing history (an unreachable database)
     */
    static boolean upToDate(Connection connection, String schema) throws SQLException {
        // The schema name is checked against [a-z_][a-z0-9_]* in PostgresSettings, so it is safe to splice in.
        // to_regclass: no error (and no aborted transaction) when the schema or the table does not exist yet.
        try (Statement statement = connection.createStatement();
                ResultSet exists =
                        statement.executeQuery("select to_regclass('" + schema + ".flyway_schema_history') is null")) {
            if (!exists.next() || exists.getBoolean(1)) {
                return false;
            }
        }
        List<Applied> applied = new ArrayList<>();
        try (Statement statement = connection.createStatement();
                ResultSet rows = statement.executeQuery("select version, checksum, type, success from " + schema
                        + ".flyway_schema_history where type <> 'SCHEMA' order by installed_rank")) {
            while (rows.next()) {
                int checksum = rows.getInt(2);
                boolean noChecksum = rows.wasNull();
                if (!"SQL".equals(rows.getString(3)) || !rows.getBoolean(4) || noChecksum) {
                    return false;
                }
                applied.add(new Applied(rows.getString(1), checksum));
            }
        }
        return applied.equals(EXPECTED);
    }

    /** What a schema migrated by this build holds: each migration's version and Flyway's checksum of its text. */
    static List<Applied> expected() {
        List<Applied> expected = new ArrayList<>();
        for (String file : MIGRATIONS) {
            expected.add(new Applied(file.substring(1, file.indexOf("__")), checksum("db/migration/" + file)));
        }
        return List.copyOf(expected);
    }

    /**
     * Flyway's checksum of a SQL migration: a CRC-32 over its lines' UTF-8 bytes without their line breaks, a byte
     * order mark dropped, as a signed int (the history's {@code checksum} column).
     */
    static int checksum(String resource) {
        CRC32 crc = new CRC32();
        try (InputStream in = SchemaHistory.class.getClassLoader().getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException("no migration " + resource + " in this build");
            }
            BufferedReader lines = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
            String line = lines.readLine();
            if (line != null && line.startsWith("\uFEFF")) {
                line = line.substring(1);
            }
            for (; line != null; line = lines.readLine()) {
                crc.update(line.getBytes(StandardCharsets.UTF_8));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the migration " + resource, e);
        }
        return (int) crc.getValue();
    }
}
