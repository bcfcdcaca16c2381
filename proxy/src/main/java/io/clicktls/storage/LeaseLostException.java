package io.clicktls.storage;

import java.io.IOException;

/**
 * A fenced write was refused because the writer's lease is no longer current: it expired and another holder took it
 * (with a larger token), or it was released. Nothing was written; the work done under the lease must be abandoned.
 */
public final class LeaseLostException extends IOException {

    private static final long serialVersionUID = 1L;

    private final String name;
    private final long token;
    private final long currentToken;

    /** @param currentToken the lease's token now, or -1 when nobody holds it */
    public LeaseLostException(String name, long token, long currentToken) {
        super("lease " + name + " #" + token + " is no longer held"
                + (currentToken < 0 ? " (released)" : " (now #" + currentToken + ")") + "; write refused");
        this.name = name;
        this.token = token;
        this.currentToken = currentToken;
    }

    public String name() {
        return name;
    }

    public long token() {
        return token;
    }

    public long currentToken() {
        return currentToken;
    }
}
