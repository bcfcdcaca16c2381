package io.clicktls.cli;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.ClickTlsServer;
import io.clicktls.config.Certificates;
import io.clicktls.pki.CertifiedKey;
import io.clicktls.pki.KeyPairs;
import io.clicktls.pki.Pem;
import io.clicktls.storage.CertificateStore;
import io.clicktls.storage.FileStorage;
import io.clicktls.storage.Storage;
import io.clicktls.storage.StorageKeys;
import io.clicktls.storage.postgres.PostgresSettings;
import io.clicktls.storage.postgres.PostgresStorage;
import io.clicktls.testing.InternalCaStack;
import io.clicktls.testing.PostgresServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code clicktls storage copy} between folders and a real PostgreSQL: a single node's 1,000 certificates moved into
 * the database (private keys encrypted there) and back out, byte for byte; and the packaged command line as an
 * operator runs it.
 */
class StorageCopyIT {

    private static final int NAMES = 1000;
    private static final Pattern SUMMARY =
            Pattern.compile("(?m)^copied (\\d+), unchanged (\\d+), failed (\\d+); (\\d+) bytes");
    private static final AtomicInteger SCHEMAS = new AtomicInteger();

    @TempDir
    static Path dir;

    private static PostgresServer server;
    /** What the single node stored: every key and its value, as read from its folder. */
    private static Map<String, byte[]> stored;

    @BeforeAll
    static void startPostgresAndFillASingleNodesFolder() throws Exception {
        long start = System.nanoTime();
        server = PostgresServer.start(dir.resolve("pg"));
        try (InternalCaStack node = InternalCaStack.create(dir.resolve("single"), "*.shop.test")) {
            ExecutorService issuing = Executors.newFixedThreadPool(4);
            try {
                List<Future<?>> issued = new ArrayList<>();
                for (int i = 0; i < NAMES; i++) {
                    String name = "n" + i + ".shop.test";
                    issued.add(issuing.submit(() -> {
                        node.store.save(node.internalIssuer.issue(name));
                        return null;
                    }));
                }
                for (Future<?> each : issued) {
                    each.get(60, TimeUnit.SECONDS);
                }
            } finally {
                issuing.shutdownNow();
            }
            Storage storage = node.storage;
            storage.store(
                    StorageKeys.ACCOUNT_KEY,
                    Pem.encodeKey(KeyPairs.generate(Certificates.KeyType.EC256).getPrivate()));
            storage.store(StorageKeys.ACCOUNT, "{\"location\":\"https://ca.test/acct/1\"}".getBytes(UTF_8));
            storage.store(StorageKeys.issuanceState("n7.shop.test"), "{\"failures\":1}".getBytes(UTF_8));
            storage.store(StorageKeys.LIMITS_ORDERS, "[1765000000]".getBytes(UTF_8));
            storage.store(StorageKeys.LIMITS_CERTIFICATES + "shop.test", "[1765000000]".getBytes(UTF_8));
            storage.store(StorageKeys.cleanup("n9.shop.test"), "2026-12-01T00:00:00Z".getBytes(UTF_8));
            storage.store(StorageKeys.http01Challenge("token-in-flight"), "token.thumbprint".getBytes(UTF_8));
            stored = new HashMap<>();
            for (String key : storage.list("")) {
                if (StorageCopy.copies(key)) {
                    stored.put(key, storage.load(key).orElseThrow());
                }
            }
        }
        assertThat(stored).hasSize(NAMES * 3 + 2 + 6);
        System.out.printf(
                "PostgreSQL started and %d certificates issued into a folder in %d ms%n",
                NAMES, (System.nanoTime() - start) / 1_000_000);
        byte[] key = new byte[32];
        new SecureRandom().nextBytes(key);
        Files.writeString(dir.resolve("storage.key"), Base64.getEncoder().encodeToString(key));
    }

    @AfterAll
    static void stopPostgres() throws IOException {
        server.close();
    }

    @Test
    void aThousandNamesGoIntoPostgresEncryptedAndBackOutByteForByteAndEachSecondRunCopiesNothing() throws Exception {
        Path single = config("single.yml", "directory: single");
        String schema = "copy" + SCHEMAS.incrementAndGet();
        Path cluster = config("cluster.yml", postgres(schema, true));
        Path back = config("back.yml", "directory: back");

        Run in = copy(single, cluster);
        assertThat(in.code()).as(in.err()).isZero();
        assertThat(in.counts()).containsExactly(stored.size(), 0, 0);
        assertThat(in.out()).contains("(1 challenges in flight not copied)");

        PostgresSettings settings = PostgresSettings.of(server.url(), "postgres", null)
                .withSchema(schema)
                .withEncryptionKeyFile(dir.resolve("storage.key"));
        try (PostgresStorage database = PostgresStorage.open(settings)) {
            assertThat(database.list("")).hasSameSizeAs(stored.keySet());
            for (Map.Entry<String, byte[]> entry : stored.entrySet()) {
                assertThat(database.load(entry.getKey()))
                        .as(entry.getKey())
                        .hasValueSatisfying(value -> assertThat(value).isEqualTo(entry.getValue()));
            }
        }
        Map<String, byte[]> rows = rows(schema);
        long privateKeys = 0;
        for (Map.Entry<String, byte[]> row : rows.entrySet()) {
            byte[] plain = stored.get(row.getKey());
            if (StorageKeys.isPrivateKey(row.getKey())) {
                privateKeys++;
                assertThat(row.getValue()).as("raw %s", row.getKey()).isNotEqualTo(plain);
                assertThat(new String(row.getValue(), UTF_8)).doesNotContain("PRIVATE KEY");
            } else {
                assertThat(row.getValue()).as("raw %s", row.getKey()).isEqualTo(plain);
            }
        }
        assertThat(privateKeys).isEqualTo(NAMES + 2); // certificates, the internal CA, the ACME account

        Run again = copy(single, cluster);
        assertThat(again.code()).as(again.err()).isZero();
        assertThat(again.counts()).containsExactly(0, stored.size(), 0);

        Run out = copy(cluster, back);
        assertThat(out.code()).as(out.err()).isZero();
        assertThat(out.counts()).containsExactly(stored.size(), 0, 0);
        FileStorage copied = new FileStorage(dir.resolve("back"));
        assertThat(copied.list("")).containsExactlyInAnyOrderElementsOf(stored.keySet());
        for (Map.Entry<String, byte[]> entry : stored.entrySet()) {
            assertThat(copied.load(entry.getKey())).as(entry.getKey()).hasValueSatisfying(value -> assertThat(value)
                    .isEqualTo(entry.getValue()));
        }
        CertificateStore certificates = new CertificateStore(copied);
        Optional<CertifiedKey> last = certificates.load("n" + (NAMES - 1) + ".shop.test");
        assertThat(last).hasValueSatisfying(certified -> assertThat(certified.name())
                .isEqualTo("n" + (NAMES - 1) + ".shop.test"));

        Run outAgain = copy(cluster, back);
        assertThat(outAgain.counts()).containsExactly(0, stored.size(), 0);
        System.out.print("folder -> PostgreSQL: " + in.out() + "again: " + again.out() + "PostgreSQL -> folder: "
                + out.out() + "again: " + outAgain.out());
    }

    @Test
    void thePackagedCommandCopiesReportsAKeyItCannotDecryptWithExitOneAndABadConfigWithExitTwo() throws Exception {
        Path jar = Path.of(System.getenv().getOrDefault("CLICKTLS_REPO_ROOT", ".."), "proxy/target/clicktls.jar");
        Assumptions.assumeTrue(Files.isRegularFile(jar), "needs the packaged jar (mvn package): " + jar);
        Path single = config("single.yml", "directory: single");
        String schema = "copy" + SCHEMAS.incrementAndGet();
        Path encrypted = config("encrypted.yml", postgres(schema, true));
        Path withoutKey = config("without-key.yml", postgres(schema, false));
        Path out = config("out.yml", "directory: out");

        Run in = runJar(jar, "storage", "copy", "--from", single.toString(), "--to", encrypted.toString());

        assertThat(in.code()).as(in.err()).isZero();
        assertThat(in.counts()).containsExactly(stored.size(), 0, 0);
        assertThat(in.err())
                .contains("clicktls storage copy: from the folder " + dir.resolve("single") + " to PostgreSQL "
                        + server.url() + " (schema " + schema + ")");

        Run undecryptable = runJar(jar, "storage", "copy", "--from", withoutKey.toString(), "--to", out.toString());

        assertThat(undecryptable.code()).as(undecryptable.err()).isEqualTo(StorageCopyCommand.FAILED);
        assertThat(undecryptable.counts()).containsExactly(stored.size() - (NAMES + 2), 0, NAMES + 2);
        assertThat(undecryptable.err())
                .contains("clicktls storage copy: acme/account-key.pem: PostgreSQL storage: cannot load"
                        + " acme/account-key.pem: it is encrypted; set storage.postgres.encryption_key_file")
                .contains("and " + (NAMES + 2 - StorageCopyCommand.LISTED_FAILURES) + " more failed keys");
        assertThat(Files.exists(dir.resolve("out/certificates/n1.shop.test/key.pem")))
                .isFalse();
        assertThat(Files.exists(dir.resolve("out/certificates/n1.shop.test/chain.pem")))
                .isTrue();

        Path broken = Files.writeString(
                dir.resolve("broken.yml"),
                "storage:\n  postgres:\n    url: postgres://db/x\n" + StorageCopyCommandTest.PLATFORM);
        Run bad = runJar(jar, "storage", "copy", "--from", single.toString(), "--to", broken.toString());

        assertThat(bad.code()).isEqualTo(StorageCopyCommand.INVALID);
        assertThat(bad.err()).containsPattern(Pattern.quote(broken.toString()) + ":3:10: storage.postgres.url: ");
        assertThat(bad.out()).isEmpty();
    }

    @Test
    void aDatabaseThatCannotBeReachedIsExitOneNamingItWithoutThePassword() throws Exception {
        Path single = config("single.yml", "directory: single");
        // Port 1 on loopback: nothing listens, the connection is refused at once.
        Path unreachable = config(
                "unreachable.yml",
                "postgres:\n  url: jdbc:postgresql://127.0.0.1:1/clicktls\n  user: clicktls\n  password: s3cret-pw");

        Run run = copy(single, unreachable);

        assertThat(run.code()).isEqualTo(StorageCopyCommand.FAILED);
        assertThat(run.err())
                .contains("clicktls storage copy: cannot open --to storage (PostgreSQL"
                        + " jdbc:postgresql://127.0.0.1:1/clicktls (schema clicktls)): ")
                .doesNotContain("s3cret-pw");
        assertThat(run.out()).isEmpty();
    }

    /** The command in this JVM, with the storages opened as {@code Main} opens them. */
    private static Run copy(Path from, Path to) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = StorageCopyCommand.run(
                List.of("copy", "--from", from.toString(), "--to", to.toString()),
                ClickTlsServer::existingStorage,
                config -> Optional.of(ClickTlsServer.openStorage(config)),
                new PrintStream(out, true, UTF_8),
                new PrintStream(err, true, UTF_8));
        return new Run(code, out.toString(UTF_8), err.toString(UTF_8));
    }

    private static Run runJar(Path jar, String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(
                ProcessHandle.current().info().command().orElse("java"),
                "-jar",
                jar.toAbsolutePath().toString()));
        command.addAll(List.of(args));
        Path out = Files.createTempFile(dir, "out", ".txt");
        Path err = Files.createTempFile(dir, "err", ".txt");
        Process process = new ProcessBuilder(command)
                .redirectOutput(out.toFile())
                .redirectError(err.toFile())
                .start();
        if (!process.waitFor(120, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new AssertionError("clicktls storage copy did not end within 120 s: " + Files.readString(err));
        }
        return new Run(process.exitValue(), Files.readString(out), Files.readString(err));
    }

    /** One run: exit code, standard output and standard error. */
    record Run(int code, String out, String err) {
        /** Copied, unchanged and failed from the summary line. */
        List<Integer> counts() {
            Matcher summary = SUMMARY.matcher(out);
            assertThat(summary.find()).as("summary in:\n%s\n%s", out, err).isTrue();
            return List.of(
                    Integer.parseInt(summary.group(1)),
                    Integer.parseInt(summary.group(2)),
                    Integer.parseInt(summary.group(3)));
        }
    }

    private static Path config(String file, String storageYaml) throws IOException {
        return Files.writeString(
                dir.resolve(file),
                "storage:\n  " + storageYaml.replace("\n", "\n  ") + "\n" + StorageCopyCommandTest.PLATFORM);
    }

    private static String postgres(String schema, boolean encrypted) {
        return "postgres:\n  url: " + server.url() + "\n  user: postgres\n  schema: " + schema
                + (encrypted ? "\n  encryption_key_file: storage.key" : "");
    }

    /** The values as they lie in the table, as an operator sees them with psql. */
    private static Map<String, byte[]> rows(String schema) throws Exception {
        Map<String, byte[]> rows = new HashMap<>();
        try (Connection connection = server.connect();
                PreparedStatement select = connection.prepareStatement("select key, value from " + schema + ".entry");
                ResultSet row = select.executeQuery()) {
            while (row.next()) {
                rows.put(row.getString(1), row.getBytes(2));
            }
        }
        return rows;
    }
}
