package io.clicktls.storage;

import java.io.IOException;

/**
 * The backend could not be reached (a database down, a network cut, not connected yet since the node started): the
 * operation did not happen and may succeed later, unlike a failure of the operation itself. {@link CachedStorage}
 * answers reads from its local copy on this exception only; a file system never throws it.
 */
public final class StorageUnavailableException extends IOException {

    public StorageUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
