package io.clicktls.config;

/**
 * A file served at a path under {@code /.well-known/} for a domain (an app-links file such as
 * {@code assetlinks.json}), read when the config is loaded.
 *
 * @param source the local file it was read from, absolute
 * @param contentType the {@code Content-Type} it is served with, chosen by the request path's extension
 * @param content its bytes as read; never changed after the load (the array is shared, not copied, by every
 *     response)
 */
public record WellKnownFile(java.nio.file.Path source, String contentType, byte[] content) {}
