package io.clicktls.cli;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.ClickTlsServer;
import io.clicktls.config.StorageSettings;
import io.clicktls.storage.FileStorage;
import io.clicktls.storage.StorageKeys;
import io.clicktls.testing.ForwardingStorage;
import io.clicktls.testing.InMemoryStorage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StorageCopyCommandTest {

    @TempDir
    Path dir;

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();
    private final AtomicInteger opened = new AtomicInteger();
    /** How the target is opened: as {@code Main} opens it, unless a test wraps it. */
    private StorageCopyCommand.Opener target = config -> Optional.of(ClickTlsServer.openStorage(config));

    @Test
    void helpPrintsTheUsageAndExitsZero() {
        assertThat(run("copy", "--help")).isEqualTo(StorageCopyCommand.OK);
        assertThat(out()).startsWith("usage: clicktls storage copy --from FILE --to FILE");
        assertThat(err()).isEmpty();
    }

    @Test
    void badUsageSaysWhatIsWrongWithTheUsageAndExitsTwo() {
        assertThat(run()).isEqualTo(StorageCopyCommand.INVALID);
        assertThat(err()).contains("which storage command? (copy)", "usage: clicktls storage copy");

        assertThat(run("move", "--from", "a.yml", "--to", "b.yml")).isEqualTo(2);
        assertThat(err()).contains("unknown storage command move");

        assertThat(run("copy", "--from", "a.yml")).isEqualTo(2);
        assertThat(err()).contains("--from FILE and --to FILE are both required");

        assertThat(run("copy", "--from", "a.yml", "--to")).isEqualTo(2);
        assertThat(err()).contains("--to needs a value");

        assertThat(run("copy", "--from=a.yml", "--to=b.yml", "--fast")).isEqualTo(2);
        assertThat(err()).contains("unknown option --fast");
        assertThat(opened).hasValue(0);
    }

    @Test
    void aConfigThatDoesNotLoadIsReportedAtFileLineColumnAndExitsTwoBeforeAnythingIsOpened() throws Exception {
        assertThat(copy("directory: a", "directory: b\n  colour: red")).isEqualTo(StorageCopyCommand.INVALID);

        assertThat(err()).containsPattern("(?m)^" + dir.resolve("to.yml") + ":3:3: .*colour");
        assertThat(err()).doesNotContain(dir.resolve("from.yml") + ":");
        assertThat(opened).hasValue(0);
    }

    @Test
    void twoConfigsNamingTheSameFolderAreRefusedEvenThroughASymbolicLink() throws Exception {
        Files.createDirectories(dir.resolve("data"));
        Files.createSymbolicLink(dir.resolve("link"), dir.resolve("data"));

        assertThat(copy("directory: data", "directory: link")).isEqualTo(StorageCopyCommand.INVALID);

        assertThat(err()).contains("both name the folder " + dir.toRealPath().resolve("data"), "nothing to copy");
        assertThat(opened).hasValue(0);
    }

    @Test
    void aFolderInsideTheOtherIsRefused() throws Exception {
        assertThat(copy("directory: data", "directory: data/backup")).isEqualTo(StorageCopyCommand.INVALID);

        assertThat(err()).contains("name folders inside one another");
    }

    @Test
    void theSameDatabaseAndSchemaIsRecognisedUnderAnotherSpellingOfItsUrl() {
        StorageSettings plain = postgres("jdbc:postgresql://db.example.net/clicktls", "clicktls");
        StorageSettings spelled =
                postgres("jdbc:postgresql://DB.example.net:5432/clicktls?sslmode=require", "clicktls");
        StorageSettings otherSchema = postgres("jdbc:postgresql://db.example.net/clicktls", "cluster2");
        StorageSettings otherPort = postgres("jdbc:postgresql://db.example.net:5433/clicktls", "clicktls");

        assertThat(StorageCopyCommand.sameStorage(plain, spelled))
                .hasValue("both name schema clicktls of db.example.net:5432/clicktls");
        assertThat(StorageCopyCommand.sameStorage(plain, otherSchema)).isEmpty();
        assertThat(StorageCopyCommand.sameStorage(plain, otherPort)).isEmpty();
        assertThat(StorageCopyCommand.sameStorage(plain, new StorageSettings(dir)))
                .isEmpty();
        assertThat(StorageCopyCommand.database("jdbc:postgresql:clicktls")).isEqualTo("localhost:5432/clicktls");
        assertThat(StorageCopyCommand.database("jdbc:postgresql://[::1]/c")).isEqualTo("[::1]:5432/c");
        assertThat(StorageCopyCommand.database("jdbc:postgresql://[::1]:6543/c"))
                .isEqualTo("[::1]:6543/c");
    }

    @Test
    void asManyKeysAreCopiedAtOnceAsTheDatabasePoolGivesConnections() {
        StorageSettings folder = new StorageSettings(dir);
        StorageSettings database = new StorageSettings(
                null, new StorageSettings.Postgres("jdbc:postgresql://db/clicktls", null, null, "clicktls", 12, null));

        assertThat(StorageCopyCommand.workers(folder, database)).isEqualTo(12);
        assertThat(StorageCopyCommand.workers(database, folder)).isEqualTo(12);
        assertThat(StorageCopyCommand.workers(folder, new StorageSettings(dir.resolve("b"))))
                .isEqualTo(StorageCopyCommand.FOLDER_WORKERS);
    }

    @Test
    void aSourceFolderThatDoesNotExistIsABadConfigNotAnEmptyCopy() throws Exception {
        assertThat(copy("directory: missing", "directory: b")).isEqualTo(StorageCopyCommand.INVALID);

        assertThat(err()).contains("nothing is stored in the folder " + dir.resolve("missing"));
        assertThat(dir.resolve("b")).doesNotExist();
    }

    @Test
    void aFolderIsCopiedIntoAnotherAndTheSecondRunCopiesNothing() throws Exception {
        InMemoryStorage sample = new InMemoryStorage();
        StorageCopyTest.fill(sample, 20);
        FileStorage source = new FileStorage(dir.resolve("a"));
        for (String key : sample.list("")) {
            source.store(key, sample.load(key).orElseThrow());
        }
        assertThat(copy("directory: a", "directory: b")).isEqualTo(StorageCopyCommand.OK);

        assertThat(err()).contains("from the folder " + dir.resolve("a") + " to the folder " + dir.resolve("b"));
        assertThat(out()).matches("copied 64, unchanged 0, failed 0; \\d+ bytes in \\d+\\.\\d s\n");
        FileStorage copy = new FileStorage(dir.resolve("b"));
        assertThat(copy.list("")).hasSize(64);
        for (String key : sample.list("")) {
            assertThat(copy.load(key)).as(key).hasValueSatisfying(value -> assertThat(value)
                    .isEqualTo(sample.load(key).orElseThrow()));
        }

        assertThat(copy("directory: a", "directory: b")).isEqualTo(StorageCopyCommand.OK);
        assertThat(out()).startsWith("copied 0, unchanged 64, failed 0; 0 bytes");
    }

    @Test
    void aKeyThatFailsIsListedOnStandardErrorAndTheExitIsOne() throws Exception {
        FileStorage source = new FileStorage(dir.resolve("a"));
        source.store(StorageKeys.LIMITS_ORDERS, "[]".getBytes(UTF_8));
        source.store(StorageKeys.CA_ROOT, "root".getBytes(UTF_8));
        target = config -> Optional.of(new ForwardingStorage(ClickTlsServer.openStorage(config)) {
            @Override
            public void store(String key, byte[] value) throws IOException {
                if (key.equals(StorageKeys.CA_ROOT)) {
                    throw new IOException("cannot write " + key + ": read-only file system");
                }
                super.store(key, value);
            }
        });

        assertThat(copy("directory: a", "directory: b")).isEqualTo(StorageCopyCommand.FAILED);
        assertThat(err())
                .contains("clicktls storage copy: ca/root.pem: cannot write ca/root.pem: read-only file system");
        assertThat(out()).startsWith("copied 1, unchanged 0, failed 1;");
    }

    private int run(String... args) {
        out.reset();
        err.reset();
        StorageCopyCommand.Opener counting = config -> {
            opened.incrementAndGet();
            return ClickTlsServer.existingStorage(config);
        };
        StorageCopyCommand.Opener creating = config -> {
            opened.incrementAndGet();
            return target.open(config);
        };
        return StorageCopyCommand.run(
                new ArrayList<>(List.of(args)),
                counting,
                creating,
                new PrintStream(out, true, UTF_8),
                new PrintStream(err, true, UTF_8));
    }

    /** Writes {@code from.yml} and {@code to.yml} with these {@code storage:} sections and copies between them. */
    private int copy(String fromStorage, String toStorage) throws IOException {
        Path from = write("from.yml", "storage:\n  " + fromStorage + "\n");
        Path to = write("to.yml", "storage:\n  " + toStorage + "\n");
        return run("copy", "--from", from.toString(), "--to", to.toString());
    }

    private Path write(String name, String storageYaml) throws IOException {
        return Files.writeString(dir.resolve(name), storageYaml + PLATFORM);
    }

    /** The rest of a config that loads: one platform, one domain. */
    static final String PLATFORM =
            """
            platforms:
              stand-in: { upstream: "http://127.0.0.1:8081" }
            domains:
              - name: links.shop.test
                platform: stand-in
            """;

    private static StorageSettings postgres(String url, String schema) {
        return new StorageSettings(null, new StorageSettings.Postgres(url, null, null, schema, 8, null));
    }

    private String out() {
        return out.toString(UTF_8);
    }

    private String err() {
        return err.toString(UTF_8);
    }
}
