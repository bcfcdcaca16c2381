package io.clicktls.config;

import java.nio.file.Path;

/** Where certificates, keys, the local CA and the ACME account live. */
public record StorageSettings(Path directory) {}
