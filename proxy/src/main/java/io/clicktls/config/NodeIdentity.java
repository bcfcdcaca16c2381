package io.clicktls.config;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Pattern;

/**
 * Who this node is among the nodes that share one storage ({@code node:} in the file): its name is written into
 * what it issues ({@code meta.json}'s {@code issued_by_node}) and into the leases it takes, and shown on the status
 * page. Read at start only.
 *
 * @param name letters, digits, {@code .}, {@code _} and {@code -}, at most 63; by default the host name
 */
public record NodeIdentity(String name) {

    /** What {@link #name} may hold: short and printable, as it is shown and stored. */
    static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,62}");

    /** A file without {@code node:}: the host name. */
    public static final NodeIdentity DEFAULTS = new NodeIdentity(hostName());

    public NodeIdentity {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("node.name: " + name + " (expected: " + NAME.pattern() + ")");
        }
    }

    /**
     * The host name as the kernel knows it, without asking DNS (a node must start without it), shortened to what
     * {@link #NAME} allows; {@code node} where nothing can be read.
     */
    static String hostName() {
        String host = System.getenv("HOSTNAME");
        if (host == null || host.isBlank()) {
            try {
                host = Files.readString(Path.of("/proc/sys/kernel/hostname")).strip();
            } catch (IOException | RuntimeException e) {
                host = "";
            }
        }
        String cleaned = host.replaceAll("[^A-Za-z0-9._-]", "-");
        cleaned = cleaned.length() > 63 ? cleaned.substring(0, 63) : cleaned;
        return NAME.matcher(cleaned).matches() ? cleaned : "node";
    }
}
