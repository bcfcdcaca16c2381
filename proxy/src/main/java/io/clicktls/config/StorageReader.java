package io.clicktls.config;

import static io.clicktls.config.Binding.quote;

import io.clicktls.config.YamlTree.ScalarNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;

/**
 * {@code storage:} where certificates, keys and the CA live: {@code directory}, or {@code postgres} for a cluster;
 * {@code lease}, how long a node's claim on a name's order lasts.
 * The database password is a secret: no message quotes it, nor the content of its file.
 */
final class StorageReader {

    private static final List<String> KEYS = List.of("directory", "postgres", "lease");
    private static final List<String> POSTGRES_KEYS = List.of(
            "url",
            "user",
            "password",
            "password_file",
            "schema",
            "pool_size",
            "encryption_key_file",
            "cache_directory");
    private static final String URL_EXPECTED = "a JDBC URL such as jdbc:postgresql://db.example.net:5432/clicktls";
    private static final Pattern SCHEMA = Pattern.compile("[a-z_][a-z0-9_]{0,62}");
    private static final String SCHEMA_EXPECTED =
            "lower-case letters, digits and _, starting with a letter or _, at most 63";

    private StorageReader() {}

    static StorageSettings read(Section storage) {
        storage.allowOnly(KEYS);
        Binding binding = storage.binding();
        if (storage.given("directory") && storage.given("postgres")) {
            binding.expected(
                    storage.entry("postgres").keyPosition(),
                    "storage: both 'directory' and 'postgres' given",
                    "one of them");
        }
        Path directory = storage.path("directory", "a folder");
        StorageSettings.Postgres postgres = null;
        Path postgresCache = null;
        if (storage.given("postgres")) {
            Section section = storage.section("postgres");
            postgres = postgres(section);
            postgresCache = section.path("cache_directory", "a folder");
        }
        return new StorageSettings(
                directory != null ? directory : binding.resolve(StorageSettings.DEFAULT_DIRECTORY),
                postgres,
                postgresCache != null ? postgresCache : binding.resolve(StorageSettings.DEFAULT_POSTGRES_CACHE),
                storage.positiveDuration("lease", StorageSettings.DEFAULT_LEASE));
    }

    private static StorageSettings.Postgres postgres(Section postgres) {
        postgres.allowOnly(POSTGRES_KEYS);
        Binding binding = postgres.binding();
        String path = postgres.path();
        ScalarNode url = postgres.required("url", URL_EXPECTED);
        if (url != null && !url.text().startsWith("jdbc:postgresql:")) {
            binding.expected(url.position(), path + ".url: " + quote(url.text()), URL_EXPECTED);
        }
        ScalarNode user = postgres.scalar("user", "a database role");
        String password = password(postgres);
        String schema = StorageSettings.Postgres.DEFAULT_SCHEMA;
        ScalarNode schemaNode = postgres.scalar("schema", SCHEMA_EXPECTED);
        if (schemaNode != null) {
            if (SCHEMA.matcher(schemaNode.text()).matches()) {
                schema = schemaNode.text();
            } else {
                binding.expected(schemaNode.position(), path + ".schema: " + quote(schemaNode.text()), SCHEMA_EXPECTED);
            }
        }
        int poolSize = postgres.wholeNumber("pool_size", 1, 1000, "1-1000", StorageSettings.Postgres.DEFAULT_POOL_SIZE);
        Path keyFile =
                postgres.path("encryption_key_file", "a file holding 32 bytes in base64 (openssl rand -base64 32)");
        if (keyFile != null && !Files.isReadable(keyFile)) {
            ScalarNode node = postgres.scalar("encryption_key_file", "a file");
            binding.expected(
                    node.position(),
                    path + ".encryption_key_file: " + quote(node.text()) + " is not a readable file at " + keyFile,
                    "a file holding 32 bytes in base64 (openssl rand -base64 32)");
        }
        if (url == null) {
            return null;
        }
        return new StorageSettings.Postgres(
                url.text(), user == null ? null : user.text(), password, schema, poolSize, keyFile);
    }

    private static String password(Section postgres) {
        Binding binding = postgres.binding();
        String path = postgres.path();
        ScalarNode password = postgres.scalar("password", "the role's password");
        ScalarNode passwordFile = postgres.scalar("password_file", "a file holding the password");
        if (password != null && passwordFile != null) {
            binding.expected(
                    passwordFile.position(), path + ": both 'password' and 'password_file' given", "one of them");
            return null;
        }
        if (password != null) {
            return password.text();
        }
        if (passwordFile == null) {
            return null;
        }
        Path file = binding.path(passwordFile, path + ".password_file");
        try {
            return Files.readString(file).strip();
        } catch (IOException | RuntimeException e) {
            binding.expected(
                    passwordFile.position(),
                    path + ".password_file: " + quote(passwordFile.text()) + " is not a readable file at " + file,
                    "a file holding the password");
            return null;
        }
    }
}
