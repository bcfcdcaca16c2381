package io.clicktls.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StorageConfigTest {

    private static final String REST = TestConfigs.MINIMAL;

    @TempDir
    Path dir;

    @Test
    void withoutPostgresTheStorageIsTheFolder() throws Exception {
        StorageSettings storage = parse(REST).storage();

        assertThat(storage.postgres()).isNull();
        assertThat(storage.directory())
                .isEqualTo(dir.toAbsolutePath().normalize().resolve("data"));
    }

    @Test
    void postgresIsReadWithItsDefaultsAndItsPasswordFileAndNeverPrintsThePassword() throws Exception {
        Files.writeString(dir.resolve("db-password"), "s3cret-pw\n");
        Files.writeString(dir.resolve("storage.key"), "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n");

        ClickTlsConfig config = parse(
                """
                storage:
                  postgres:
                    url: jdbc:postgresql://db.example.net:5432/clicktls
                    user: clicktls
                    password_file: db-password
                    encryption_key_file: storage.key
                """
                        + REST);

        StorageSettings.Postgres postgres = config.storage().postgres();
        assertThat(postgres.url()).isEqualTo("jdbc:postgresql://db.example.net:5432/clicktls");
        assertThat(postgres.user()).isEqualTo("clicktls");
        assertThat(postgres.password()).isEqualTo("s3cret-pw");
        assertThat(postgres.schema()).isEqualTo("clicktls");
        assertThat(postgres.poolSize()).isEqualTo(8);
        assertThat(postgres.encryptionKeyFile())
                .isEqualTo(dir.toAbsolutePath().normalize().resolve("storage.key"));
        assertThat(config.toString()).doesNotContain("s3cret-pw").contains("password=(set)");
    }

    @Test
    void theLocalCopyOfPostgresIsInTheDataFolderUnlessCacheDirectorySaysWhere() throws Exception {
        String postgres = "storage:\n  postgres:\n    url: jdbc:postgresql://db/clicktls\n";

        assertThat(parse(postgres + REST).storage().postgresCache())
                .isEqualTo(dir.toAbsolutePath().normalize().resolve("data/postgres-cache"));
        assertThat(parse(postgres + "    cache_directory: /var/cache/clicktls\n" + REST)
                        .storage()
                        .postgresCache())
                .isEqualTo(Path.of("/var/cache/clicktls"));
    }

    @Test
    void directoryAndPostgresTogetherAndPasswordTwiceAreProblemsThatQuoteNoPassword() {
        List<String> problems = problems(
                """
                storage:
                  directory: data
                  postgres:
                    url: jdbc:postgresql://db/clicktls
                    password: s3cret-pw
                    password_file: db-password
                    schema: Bad-Schema
                    pool_size: 0
                """
                        + REST);

        assertThat(problems)
                .anySatisfy(p -> assertThat(p).contains("storage: both 'directory' and 'postgres' given"))
                .anySatisfy(p -> assertThat(p).contains("storage.postgres: both 'password' and 'password_file'"))
                .anySatisfy(p -> assertThat(p).contains("storage.postgres.schema", "Bad-Schema"))
                .anySatisfy(p -> assertThat(p).contains("storage.postgres.pool_size"))
                .allSatisfy(p -> assertThat(p).doesNotContain("s3cret-pw"));
    }

    @Test
    void aUrlThatIsNotPostgresqlOrMissingIsAProblem() {
        assertThat(problems("storage:\n  postgres:\n    url: jdbc:mysql://db/x\n" + REST))
                .anySatisfy(p -> assertThat(p).contains("storage.postgres.url").contains("jdbc:postgresql://"));
        assertThat(problems("storage:\n  postgres:\n    user: clicktls\n" + REST))
                .anySatisfy(p -> assertThat(p).contains("storage.postgres: missing key 'url'"));
    }

    private ClickTlsConfig parse(String yaml) throws ConfigException {
        return TestConfigs.parse(yaml, dir);
    }

    private List<String> problems(String yaml) {
        return TestConfigs.problems(yaml, dir);
    }
}
