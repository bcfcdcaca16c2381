package io.clicktls.config;

import java.nio.file.Path;
import java.util.Arrays;

/**
 * A file served at a path under {@code /.well-known/} for a domain (an app-links file such as
 * {@code assetlinks.json}), read when the config is loaded. Equal by content, so that a reload whose files changed is
 * a change of meaning and one whose files did not is not.
 *
 * @param source the local file it was read from, absolute
 * @param contentType the {@code Content-Type} it is served with, chosen by the request path's extension
 * @param content its bytes as read; never changed after the load (the array is shared, not copied, by every
 *     response)
 */
public record WellKnownFile(Path source, String contentType, byte[] content) {

    @Override
    public boolean equals(Object other) {
        return other instanceof WellKnownFile file
                && source.equals(file.source)
                && contentType.equals(file.contentType)
                && Arrays.equals(content, file.content);
    }

    @Override
    public int hashCode() {
        return (source.hashCode() * 31 + contentType.hashCode()) * 31 + Arrays.hashCode(content);
    }

    @Override
    public String toString() {
        return "WellKnownFile[" + source + ", " + contentType + ", " + content.length + " bytes]";
    }
}
