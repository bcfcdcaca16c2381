package io.clicktls.config;

import java.nio.file.Path;

/** Where certificates, keys, the local CA and the ACME account live. */
public record StorageSettings(Path directory) {

    /** {@code storage.directory} when it is left out, relative to the config file's folder. */
    public static final String DEFAULT_DIRECTORY = "data";
}
