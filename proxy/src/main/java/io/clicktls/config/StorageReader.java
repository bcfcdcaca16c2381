package io.clicktls.config;

import java.nio.file.Path;
import java.util.List;

/** {@code storage:} where certificates, keys and the CA live. */
final class StorageReader {

    private static final List<String> KEYS = List.of("directory");

    private StorageReader() {}

    static StorageSettings read(Section storage) {
        storage.allowOnly(KEYS);
        Path directory = storage.path("directory", "a folder");
        return new StorageSettings(
                directory != null ? directory : storage.binding().resolve(StorageSettings.DEFAULT_DIRECTORY));
    }
}
