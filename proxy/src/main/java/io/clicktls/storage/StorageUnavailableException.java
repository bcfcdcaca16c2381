package io.clicktls.storage;

import java.io.IOException;

/**
 * The backend could not be reached (a database down, a network cut, not connected yet since the node started): the
 * operation did not happen and may succeed later, unlike a failure of the operation itself. {@link CachedStorage}
 * answers reads from its local copy on this exception only; a file system never throws it.
 */
public final class StorageUnavailableException extends IOException {

    private final boolean busy;

    public StorageUnavailableException(String message, Throwable cause) {
        this(message, cause, false);
    }

    /** @param busy the backend answers but had no connection free in time (a burst): worth trying again soon */
    public StorageUnavailableException(String message, Throwable cause, boolean busy) {
        super(message, cause);
        this.busy = busy;
    }

    /** Whether the backend was reachable but busy (every pooled connection in use), rather than unreachable. */
    public boolean busy() {
        return busy;
    }
}
