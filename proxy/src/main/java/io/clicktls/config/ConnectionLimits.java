package io.clicktls.config;

/**
 * The client connection limits of the https and http listeners together ({@code limits:} in the file). The admin
 * listener is not counted and never capped. Read per new connection, so a reload takes effect for the next one.
 *
 * @param maxConnections client connections open at once on both listeners; {@link #AUTO} (0) derives it from the
 *     process's file descriptor limit when the listeners start
 * @param maxConnectionsPerClient client connections open at once from one IP address; {@link #OFF} (0) for no limit
 */
public record ConnectionLimits(int maxConnections, int maxConnectionsPerClient) {

    /** {@code max_connections: auto}: derived from the descriptor limit. */
    public static final int AUTO = 0;
    /** {@code max_connections_per_client: off}. */
    public static final int OFF = 0;

    public static final ConnectionLimits DEFAULTS = new ConnectionLimits(AUTO, OFF);

    public ConnectionLimits {
        if (maxConnections < 0 || maxConnectionsPerClient < 0) {
            throw new IllegalArgumentException(
                    "connection limits below 0: " + maxConnections + ", " + maxConnectionsPerClient);
        }
    }

    public boolean perClientLimited() {
        return maxConnectionsPerClient != OFF;
    }
}
